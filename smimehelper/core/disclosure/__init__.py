"""The disclosure log: every transfer of patient files, recorded before it leaves.

HIPAA (45 CFR 164.528) lets a patient ask which disclosures of their health information were
made; the practice keeps that record for six years. This package is the library behind it:

* :mod:`.model`     what one entry says (who, to whom, how, which files, why, the outcome);
* :mod:`.files`     describing a file for the log (SHA-256, type, DICOM patient fields);
* :mod:`.store`     the append-only, hash-chained, fsynced file (lock, torn-tail handling);
* :mod:`.checkpoint` CMS signatures over the head of the chain (``openssl cms -verify`` checks them);
* :mod:`.verify`    finding the first edited, deleted, reordered, inserted or missing entry;
* :mod:`.report`    the accounting of disclosures of one patient (rows for CSV and PDF);
* :mod:`.csv_export`, :mod:`.pdf_export` the two export formats;
* :mod:`.syslog`    RFC 5424 messages; :mod:`.forward` RFC 5425 (syslog over TLS) with a spool.

Nothing here deletes an entry: retention is at least six years, and the app never removes any.
No passphrase, key or message text ever goes into an entry.
"""
