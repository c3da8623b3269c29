"""Importing buyers, completed sales and their license keys from another platform's export."""
