"""The staff web console (`python -m bot web`): the admins' reports, knowledge base, model answers and needs.

No passwords: an admin sends /web to the bot and gets a one-time login link (`logins.py`); the pages
(`pages.py`) render the same services the Telegram commands use; `server.py` routes and serves them.
"""
