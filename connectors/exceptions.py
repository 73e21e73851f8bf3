# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).


class ConnectorError(Exception):
    """A source can't be read; the message is meant for the administrator."""


class SourceFormatError(ConnectorError):
    """A file is not a readable table (bad encoding, no header, not a CSV/XLSX)."""


class FileTooLargeError(SourceFormatError):
    """An upload or an archive member exceeds the configured size guard."""
