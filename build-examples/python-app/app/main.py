"""A small application on the python3 base: standard library only."""
import json
import os
import sqlite3
import ssl
import sys

from inventory import Inventory


def main() -> None:
    inventory = Inventory(sqlite3.connect(":memory:"))
    inventory.add("widget", 3)
    inventory.add("gadget", 5)
    print(json.dumps({
        "python": sys.version.split()[0],
        "openssl": ssl.OPENSSL_VERSION,
        "uid": os.getuid(),
        "cwd": os.getcwd(),
        "items": inventory.total(),
        # OpenSSL reads $SSL_CERT_FILE (set by the base image) for its default CAs.
        "ca_certs": len(ssl.create_default_context().get_ca_certs()),
    }))


if __name__ == "__main__":
    main()
