"""CMS (RFC 5652) structures built with asn1crypto and cryptography primitives.

cryptography's own ``pkcs7`` helpers are DER-only and RSA-v1.5-only, and they hold the whole
content in memory; S/MIME for large studies needs streaming, ECDH, OAEP and AES-GCM.
"""
