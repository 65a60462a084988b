"""Keeps counts in SQLite (a module of the app, imported from /app)."""
import sqlite3


class Inventory:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.db.execute("CREATE TABLE items (name TEXT PRIMARY KEY, count INTEGER)")

    def add(self, name: str, count: int) -> None:
        self.db.execute("INSERT INTO items VALUES (?, ?)", (name, count))

    def total(self) -> int:
        return self.db.execute("SELECT SUM(count) FROM items").fetchone()[0]
