"""smimehelper: signed and encrypted S/MIME mail for clinicians, readable in any mail program."""

__version__ = "0.1.0"
