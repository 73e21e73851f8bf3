# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Audit findings gathered row by row and reported once per object and cause.

* contradictions (``services/contradictions``): one issue per object and
  rule, listing the rows; not blocking, since the rule decides them and the
  run applies it;
* values a line's type cannot hold (a date column holding "soon"): one issue
  per object and line, listing the rows and values; decided *Load with the
  field empty*, those rows land without that value instead of failing;
* bank accounts no Odoo journal is named after: one issue per object asking
  which journal receives their entries (stored on the project).
"""
import collections

from ..connectors import mapper as mapping
from . import contradictions
from .constants import like_exact

# Rows named in an issue's message; the rest are counted.
LISTED_ROWS = 20
LISTED_VALUES = 5


class RowFindings:

    def __init__(self, audit):
        self.audit = audit
        self.env = audit.env
        self.rows = collections.defaultdict(list)       # (object, kind, cause) -> source ids
        self.values = collections.defaultdict(list)     # (object, 'type_mismatch', field) -> distinct values
        self.objects = {}
        self.journals = {}                              # name -> exists

    def note(self, obj, source_id, values, problems):
        self.objects[obj.id] = obj
        for decision in contradictions.decide(self.env, obj.target_model, dict(values)):
            self.rows[(obj.id, 'contradiction', decision.code)].append(source_id)
        for problem in problems:
            if problem.blocking and problem.value is not None and problem.field:
                key = (obj.id, 'type_mismatch', problem.field)
                self.rows[key].append(source_id)
                if problem.value not in self.values[key]:
                    self.values[key].append(problem.value)
        journal = values.get('journal_id')
        if isinstance(journal, mapping.NameRef) and journal.relation == 'account.journal' \
                and not self._journal_exists(journal.name):
            self.rows[(obj.id, 'missing_journal', 'journal_id')].append(source_id)
            self.values[(obj.id, 'missing_journal', 'journal_id')].append(journal.name)

    def add_issues(self):
        texts = contradictions.rule_texts(self.env)
        for (obj_id, kind, cause), rows in self.rows.items():
            obj, key = self.objects[obj_id], (obj_id, kind, cause)
            listed = _listed(self.env, rows)
            if kind == 'contradiction':
                message = self.env._("%(count)s row(s) %(rule)s. Rows: %(rows)s.",
                                     count=len(rows), rule=texts[cause], rows=listed)
            elif kind == 'type_mismatch':
                message = self._mismatch_message(obj, cause, rows, listed)
            else:
                if self.audit.project.trust_journal_id:
                    continue  # already decided: the project's journal receives them
                names = collections.Counter(self.values[key])
                message = self.env._(
                    "Which journal receives these entries? No Odoo journal is named %(names)s (%(count)s entries; "
                    "rows: %(rows)s). Pick a bank or cash journal on this issue and click Use this journal: the "
                    "project keeps it, and every entry whose bank account names no journal lands there.",
                    names=', '.join('%r (%s)' % item for item in sorted(names.items())), count=len(rows),
                    rows=listed)
            self.audit.add(obj, kind, cause, message)
            issue = self.audit.issues.get((obj_id, kind, cause))
            if issue and kind == 'contradiction':
                issue['blocking'] = False  # the rule decides: listed for the record, nothing to do

    def _mismatch_message(self, obj, field_name, rows, listed):
        line = obj.field_ids.filtered(lambda line: line.enabled and line.target_field == field_name)[:1]
        label = line.target_description or field_name if line else field_name
        ttype = line.target_ttype if line else '?'
        values = self.values[(obj.id, 'type_mismatch', field_name)]
        shown = ', '.join(repr(value) for value in values[:LISTED_VALUES])
        if len(values) > LISTED_VALUES:
            shown += self.env._(" and %s other value(s)", len(values) - LISTED_VALUES)
        message = self.env._(
            "%(count)s row(s) hold a value that %(field)s (%(type)s) cannot hold: %(values)s. Rows: %(rows)s. "
            "Load with the field empty (each row's link keeps the value), change the line's type or transform "
            "and audit again, or accept: these rows then fail with this reason.",
            count=len(rows), field=label, type=ttype, values=shown, rows=listed)
        if line and line.required:
            message += ' ' + self.env._("The line is required: loaded empty, these rows still fail.")
        return message

    def _journal_exists(self, name):
        if name not in self.journals:
            Journal = self.env['account.journal'].with_context(active_test=False)
            self.journals[name] = bool(Journal.search_count([('name', '=ilike', like_exact(name))], limit=1))
        return self.journals[name]


def _listed(env, rows):
    text = ', '.join(rows[:LISTED_ROWS])
    if len(rows) > LISTED_ROWS:
        text += env._(" and %s more", len(rows) - LISTED_ROWS)
    return text
