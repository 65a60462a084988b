"""Copied into the image by the Dockerfile; compiled there by a RUN step."""
import platform
import ssl

print(f"hello from Python {platform.python_version()} on a baseimg base, {ssl.OPENSSL_VERSION}")
