# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Names shared by models and services (kept here to avoid import cycles)."""
from ..connectors.mapper import normalize_key
from ..connectors.tabular import normalize_header

# Targets prefixed with this go to the mail.activity scheduled on the
# record (an appointment's date and type), not to the record itself.
ACTIVITY_PREFIX = 'activity.'
# Targets prefixed with this name a method run on the record once written,
# for rows whose mapped value is true (an invoice paid in the source is
# posted).  Only these methods, which replay a document's state, may be run.
ACTION_PREFIX = 'action.'
ALLOWED_ACTIONS = {
    'account.move': ('action_post',),
    'account.payment': ('action_post',),
    'sale.order': ('action_confirm',),
}
# Mapper key of a value written on a looked-up record: '@object:mode:field'.
WRITE_BACK_KEY = '@%s:%s:%s'
# Who may read row contents the migration keeps beside the records (uploaded
# exports, diff values, values kept on link rows, row and issue messages): the
# people who may read every migrated record itself, and the migration managers
# who load them.  A Migration User alone sees counts and states, not patients.
DATA_READERS = 'sales_team.group_sale_salesman_all_leads,crm_migration.group_crm_migration_manager'
# Link operations that leave an Odoo record owned or changed by the migration.
LIVE_OPERATIONS = ('created', 'updated', 'linked')


def like_exact(value):
    """``value`` for an ``=ilike`` search matching it literally: a source value such as
    "10% off" or "AB_1" is text, not a pattern."""
    return str(value).replace('\\', '\\\\').replace('%', '\\%').replace('_', '\\_')


# Owners are matched among people who can own records: active internal users.
OWNER_DOMAIN = [('share', '=', False), ('active', '=', True)]


def owner_domain(login):
    value = like_exact(login)
    return ['|', ('login', '=ilike', value), ('email', '=ilike', value)] + OWNER_DOMAIN

# Objects of this model hold the source's custom-field definitions: read into mapping lines, never loaded.
DEFINITION_MODEL = 'ir.model.fields'


def selection_keys(values):
    """``[(key, label)]`` for the values of a new selection field, one key per distinct value.

    Values equal but for case and spacing are one value.  Different values whose keys
    would collide ("A+" and "A-", options in a non-Latin script) get numbered keys, so
    no two source values ever become the same Odoo value.
    """
    pairs, seen_keys, seen_values = [], set(), set()
    for value in values:
        label = str(value).strip()
        folded = normalize_key(label)
        if not label or folded in seen_values:
            continue
        seen_values.add(folded)
        base = key = selection_key(label)
        suffix = 2
        while key in seen_keys:
            key = '%s_%d' % (base[:56], suffix)
            suffix += 1
        seen_keys.add(key)
        pairs.append((key, label))
    return pairs


def selection_key(value):
    """Key of a selection value created from a source value ("No-show" -> ``no_show``)."""
    return normalize_header(value)[:60] or 'value'
