"""The centre's database of enterprise technology status and needs: the guided form, matching, staff tools."""
