# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Values of one row that contradict each other in Odoo, and the rule deciding each.

A source happily stores an appointment that ends before it starts, a bill
due before it was issued, a lead both won and lost, an invoice line of -1
unit: Odoo refuses some of them outright (``calendar.event`` checks its end,
a won stage cannot hold a lost lead) and reads the others wrongly (aging,
durations).  Each target model has one rule per contradiction, applied the
same way by the audit (which lists the rows before the run) and by the loader
(which writes the decided values and says so on the row's link), so the run
never fails such a row.

``decide(env, model, values)`` changes ``values`` in place and returns one
:class:`Decision` per rule applied.  Values are the mapper's: dates and
date-times parsed, numbers as floats; a stage may still be a reference
(the audit) or already an id (the loader).
"""
import dataclasses
import datetime

from ..connectors import mapper as mapping
from .constants import like_exact

# (start, end, duration, minutes per duration unit): the intervals a target holds.
INTERVALS = {
    'calendar.event': (('start', 'stop', 'duration', 60.0),),
    # The appointment leads of the clinic templates (Cliniko, clinic exports).
    'crm.lead': (('x_appointment_date', 'x_appointment_end', 'x_appointment_duration', 1.0),),
}
# (document date, due date).
DUE_DATES = {'account.move': ('invoice_date', 'invoice_date_due')}
# (quantity, unit price) of document lines.
LINES = {'account.move.line': ('quantity', 'price_unit'), 'sale.order.line': ('product_uom_qty', 'price_unit')}
RULE_CODES = ('lost_wins', 'ends_before_start', 'due_before_date', 'credit_line')


@dataclasses.dataclass(frozen=True)
class Decision:
    code: str     # one of RULE_CODES: the audit lists the rows of each
    field: str    # the target the rule changed
    message: str  # for the row's link


def decide(env, model, values):
    decisions = []
    if model == 'crm.lead':
        decisions += _lost_wins(env, values)
    for start, end, duration, unit in INTERVALS.get(model, ()):
        decisions += _ends_before_start(env, values, start, end, duration, unit)
    if model in DUE_DATES:
        decisions += _due_before_date(env, values, *DUE_DATES[model])
    if model in LINES:
        decisions += _credit_line(env, values, *LINES[model])
    return decisions


def rule_texts(env):
    """What each rule does, for the audit's issue listing its rows."""
    return {
        'lost_wins': env._("mapped both won and lost: lost wins, the lead keeps its lost reason in the first "
                           "stage that is not won"),
        'ends_before_start': env._("end before start: the end becomes the start plus the default duration of a "
                                   "calendar event (%s h), the same day for an all-day event",
                                   default_hours(env)),
        'due_before_date': env._("due date before the invoice date: due on the invoice date"),
        'credit_line': env._("negative quantity or unit price: a credit line of the invoice, its quantity "
                             "positive and the sign on the unit price (both negative: both positive, the "
                             "amount is the same)"),
    }


def default_hours(env):
    # The company's own default for a new meeting (Calendar settings), 1 hour out of the box.
    return env['calendar.event'].get_default_duration()


# ----------------------------------------------------------------------
# Rules
# ----------------------------------------------------------------------
def _lost_wins(env, values):
    """Lost and in a won stage (a Cliniko appointment arrived *and* cancelled or no-show).

    Odoo refuses it ("A lead in a Won stage cannot be lost"). Lost wins, as a clinic
    reads it: the cancellation or no-show is the explicit, dated decision with a
    reason, the arrival flag the leftover.
    """
    if values.get('active') is not False:
        return []  # most rows: not lost, so no stage to look up
    stage = _stage(env, values.get('stage_id'))
    if not (stage and stage.is_won):
        return []
    open_stage = env['crm.stage'].search([('is_won', '=', False)], order='sequence, id', limit=1)
    values['stage_id'] = open_stage.id if isinstance(values.get('stage_id'), int) else \
        mapping.NameRef('crm.stage', open_stage.name)
    values.pop('probability', None)
    return [Decision('lost_wins', 'stage_id', env._(
        "Both won (%(won)s) and lost: lost wins, the lead keeps its lost reason in stage %(stage)s.",
        won=stage.name, stage=open_stage.name))]


def _ends_before_start(env, values, start_field, end_field, duration_field, unit):
    start, end, duration = values.get(start_field), values.get(end_field), values.get(duration_field)
    backwards = _comparable(start, end) and end < start
    negative = isinstance(duration, (int, float)) and not isinstance(duration, bool) and duration < 0
    if not (backwards or negative):
        return []
    hours = default_hours(env)
    allday = bool(values.get('allday'))
    if isinstance(start, datetime.date) and end_field in values:
        length = datetime.timedelta(0) if allday or not isinstance(start, datetime.datetime) \
            else datetime.timedelta(hours=hours)
        values[end_field] = start + length
    if duration_field in values:
        values[duration_field] = 0.0 if allday else round(hours * 60.0 / unit, 2)
    was = mapping.value_to_text(end) if backwards else mapping.value_to_text(duration)
    return [Decision('ends_before_start', end_field if backwards else duration_field, env._(
        "Ends before it starts (%(start)s, end or length %(was)s): the end is set to %(end)s.",
        start=mapping.value_to_text(start) or '?', was=was,
        end=mapping.value_to_text(values.get(end_field)) or env._('the default length')))]


def _due_before_date(env, values, date_field, due_field):
    date, due = values.get(date_field), values.get(due_field)
    if not (_comparable(date, due) and due < date):
        return []
    values[due_field] = date
    return [Decision('due_before_date', due_field, env._(
        "Due %(due)s, before its date %(date)s: due on %(date)s.",
        due=mapping.value_to_text(due), date=mapping.value_to_text(date)))]


def _credit_line(env, values, quantity_field, price_field):
    quantity, price = values.get(quantity_field), values.get(price_field)
    quantity_negative = _number(quantity) and quantity < 0
    price_negative = _number(price) and price < 0
    if not (quantity_negative or price_negative):
        return []
    if quantity_negative:
        values[quantity_field] = -quantity
        if _number(price):
            values[price_field] = -price
    return [Decision('credit_line', price_field, env._(
        "A credit line (quantity %(quantity)s, unit price %(price)s): kept in the document as %(new_quantity)s "
        "× %(new_price)s.", quantity=mapping.value_to_text(quantity), price=mapping.value_to_text(price),
        new_quantity=mapping.value_to_text(values.get(quantity_field)),
        new_price=mapping.value_to_text(values.get(price_field))))]


# ----------------------------------------------------------------------
# Tools
# ----------------------------------------------------------------------
def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _comparable(first, second):
    """Two dates, or two date-times: a date is never compared with a date-time."""
    if not (isinstance(first, datetime.date) and isinstance(second, datetime.date)):
        return False
    return isinstance(first, datetime.datetime) == isinstance(second, datetime.datetime)


def _stage(env, value):
    """The crm.stage a mapped value names: an id (loader) or a reference by XML id or name (audit)."""
    Stage = env['crm.stage']
    if isinstance(value, int) and not isinstance(value, bool):
        return Stage.browse(value).exists()
    if isinstance(value, mapping.NameRef) and value.relation == 'crm.stage':
        if '.' in value.name and ' ' not in value.name:
            record = env.ref(value.name, raise_if_not_found=False)
            if record and record._name == 'crm.stage':
                return record
        return Stage.search([('name', '=ilike', like_exact(value.name))], limit=1)
    return Stage
