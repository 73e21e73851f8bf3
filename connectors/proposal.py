# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Propose a target for every source column, with its reason and confidence.

Evidence, strongest first:

1. the source's template lists the column among a line's alternatives;
2. a synonym table maps the header to a concept the template or the
   target model knows ("Given Name", "Forename" -> first name; "Cell" ->
   mobile; "DOB" -> date of birth);
3. the header equals a target field's technical name or label;
4. the header is similar to one (difflib ratio) and the values fit its type;
5. the values alone say what the column holds (e-mail addresses, phone
   numbers);
6. otherwise a new x_ field typed from the values.

Plain Python: the Odoo side passes the target fields as dicts.
"""
import dataclasses
import difflib
import re

from . import converters
from .mapper import value_to_text
from .tabular import normalize_header

# Concept -> header spellings seen in exports (normalised with normalize_header).
SYNONYMS = {
    'first_name': ['first_name', 'firstname', 'given_name', 'forename', 'first', 'fname', 'prenom', 'vorname'],
    'last_name': ['last_name', 'lastname', 'surname', 'family_name', 'last', 'lname', 'nom', 'nachname'],
    'full_name': ['name', 'full_name', 'fullname', 'display_name', 'contact_name', 'patient_name', 'client_name'],
    'email': ['email', 'e_mail', 'email_address', 'e_mail_address', 'mail', 'emailaddress', 'courriel'],
    'phone': ['phone', 'telephone', 'tel', 'phone_number', 'home_phone', 'work_phone', 'landline', 'business_phone'],
    'mobile': ['mobile', 'cell', 'cellphone', 'cell_phone', 'mobile_phone', 'mobile_number', 'portable', 'handy'],
    'date_of_birth': ['dob', 'date_of_birth', 'birth_date', 'birthdate', 'birthday', 'd_o_b', 'born'],
    'street': ['street', 'address', 'address_1', 'address_line_1', 'address1', 'street_address', 'addr1'],
    'street2': ['street2', 'address_2', 'address_line_2', 'address2', 'addr2'],
    'city': ['city', 'town', 'suburb', 'locality', 'ville'],
    'zip': ['zip', 'zip_code', 'postcode', 'post_code', 'postal_code', 'postalcode', 'cp'],
    'state': ['state', 'region', 'province', 'county', 'territory'],
    'country': ['country', 'country_code', 'nation', 'pays'],
    'company': ['company', 'company_name', 'organisation', 'organization', 'employer', 'account', 'business'],
    'job_title': ['title', 'job_title', 'position', 'function', 'role'],
    'website': ['website', 'web', 'url', 'homepage', 'site'],
    'notes': ['notes', 'note', 'comments', 'comment', 'description', 'remarks', 'memo'],
    'status': ['status', 'state', 'stage', 'lifecycle_status', 'lead_status', 'appointment_status'],
    'owner': ['owner', 'owner_email', 'assigned_to', 'salesperson', 'user', 'account_manager', 'responsible'],
    'tags': ['tags', 'tag', 'labels', 'categories', 'category'],
    'amount': ['amount', 'value', 'deal_value', 'expected_revenue', 'total', 'budget'],
    'source': ['source', 'lead_source', 'referral_source', 'origin', 'channel'],
}
# Where a concept lands on the models the templates use, when the template has no line for it.
CONCEPT_TARGETS = {
    'crm.lead': {
        'full_name': ('name', 'direct'), 'email': ('email_from', 'email'), 'phone': ('phone', 'first_phone'),
        'mobile': ('phone', 'first_phone'), 'street': ('street', 'direct'), 'street2': ('street2', 'direct'),
        'city': ('city', 'direct'), 'zip': ('zip', 'direct'), 'state': ('state_id', 'direct'),
        'country': ('country_id', 'direct'), 'company': ('partner_name', 'direct'),
        'job_title': ('function', 'direct'), 'website': ('website', 'direct'), 'notes': ('description', 'direct'),
        'owner': ('user_id', 'user'), 'tags': ('tag_ids', 'direct'), 'amount': ('expected_revenue', 'direct'),
        'status': ('stage_id', 'value_map'),
    },
    'res.partner': {
        'full_name': ('name', 'direct'), 'email': ('email', 'email'), 'phone': ('phone', 'first_phone'),
        'mobile': ('phone', 'first_phone'), 'street': ('street', 'direct'), 'street2': ('street2', 'direct'),
        'city': ('city', 'direct'), 'zip': ('zip', 'direct'), 'state': ('state_id', 'direct'),
        'country': ('country_id', 'direct'), 'company': ('company_name', 'direct'),
        'job_title': ('function', 'direct'), 'website': ('website', 'direct'), 'notes': ('comment', 'direct'),
        'owner': ('user_id', 'user'), 'tags': ('category_id', 'direct'),
    },
}
FUZZY_MIN = 0.82
IPV4_RE = re.compile(r'^\d{1,3}(\.\d{1,3}){3}$')
TYPE_FITS = {
    'date': ('date', 'datetime', 'char'),
    'datetime': ('datetime', 'char'),
    'integer': ('integer', 'float', 'monetary', 'char'),
    'float': ('float', 'monetary', 'char'),
    'boolean': ('boolean', 'char'),
    'selection': ('selection', 'char', 'many2one'),
    'char': ('char', 'text', 'html', 'many2one'),
    'text': ('text', 'html', 'char'),
}


@dataclasses.dataclass
class Proposal:
    column: str
    target: str
    transform: str = 'direct'
    confidence: float = 0.0
    reason: str = ''
    new_type: str = None
    selection: tuple = ()
    template_line: object = None    # an opaque handle of the template line matched, if any


def concept_of(column):
    key = normalize_header(column)
    for concept, spellings in SYNONYMS.items():
        if key in spellings:
            return concept
    # "patient_email", "home_phone_number": a known spelling ending the header
    # after one qualifier -- not "email_reminder_sent" nor "booking_ip_address".
    for concept, spellings in SYNONYMS.items():
        for spelling in spellings:
            if len(spelling) > 3 and re.fullmatch(r'[a-z0-9]+_%s' % re.escape(spelling), key):
                return concept
    return None


# What the values must look like for a concept's target to be proposed.
CONCEPT_VALUES = {
    'email': lambda info: info['emails'] >= 0.5,
    'phone': lambda info: info['phones'] >= 0.5,
    'mobile': lambda info: info['phones'] >= 0.5,
    'date_of_birth': lambda info: info['type'] in ('date', 'datetime'),
    'amount': lambda info: info['type'] in ('integer', 'float'),
}


# Concepts whose values are text whatever a sample holds: a sample of number-like
# surnames must not type ``last_name`` as an integer, nor five first names as a dropdown.
TEXT_CONCEPTS = {'first_name', 'last_name', 'full_name', 'email', 'phone', 'mobile', 'street', 'street2',
                 'city', 'zip', 'company', 'job_title', 'website', 'notes'}
FREE_TEXT_CONCEPTS = {'notes'}


def known_text_type(key, concept):
    """``'char'``/``'text'`` when the column's meaning fixes its type (names, e-mails, phones,
    ids, free text), else None: the sample decides."""
    if concept in FREE_TEXT_CONCEPTS:
        return 'text'
    if concept in TEXT_CONCEPTS or key == 'id' or key.endswith(('_id', '_ids')):
        return 'char'
    return None


def values_fit(concept, info):
    """True when the column's values can be what ``concept`` names (no values: no objection)."""
    check = CONCEPT_VALUES.get(concept)
    return not info['filled'] or check is None or check(info)


def type_fits(info, field_type):
    return not info['filled'] or field_type in TYPE_FITS.get(info['type'], ())


def profile(values):
    """What the values of a column look like: ``{'type', 'selection', 'emails', 'phones', 'filled'}``."""
    filled = [v for v in values if not converters.is_empty(v)]
    ttype, selection = converters.infer_type(filled)
    texts = [str(v).strip() for v in filled]
    emails = sum(1 for t in texts if converters.looks_like_email(t))
    phones = sum(1 for t in texts if re.match(r'^\+?[\d ()./-]{7,}$', t) and len(re.sub(r'\D', '', t)) >= 7
                 and not IPV4_RE.match(t) and not converters.looks_like_date(t))
    return {
        'type': ttype, 'selection': tuple(selection), 'filled': len(texts),
        'emails': emails / len(texts) if texts else 0.0, 'phones': phones / len(texts) if texts else 0.0,
    }


def propose(column, label, values, model, target_fields, template_lines=(), taken=()):
    """The best proposal for one source column.

    ``target_fields``: ``{name: {'string', 'type'}}`` of the target model.
    ``template_lines``: objects with ``candidates`` (set of column keys),
    ``target`` and ``transform``, and an optional ``concept``.
    ``taken``: targets already fed by another column (a second column for
    the same target becomes an x_ field instead of overwriting it).
    """
    key = normalize_header(column)
    info = profile(values)
    fixed = known_text_type(key, concept_of(label or column))
    if fixed and info['type'] not in ('char', 'text'):
        info = dict(info, type=fixed, selection=())
    for line in template_lines:
        if key in line.candidates:
            return Proposal(key, line.target, line.transform, 1.0,
                            'listed for %s in the source template' % line.target, template_line=line)
    concept = concept_of(label or column)
    if concept and not values_fit(concept, info):
        concept = None
    if concept:
        for line in template_lines:
            if getattr(line, 'concept', None) == concept and line.target not in taken:
                return Proposal(
                    key,
                    line.target,
                    line.transform,
                    0.9,
                    '"%s" is a synonym of %s (template line %s)'
                    % (label or column, concept.replace('_', ' '), line.target),
                    template_line=line,
                )
        target = CONCEPT_TARGETS.get(model, {}).get(concept)
        if target and target[0] in target_fields and target[0] not in taken \
                and (target[1] != 'direct' or type_fits(info, target_fields[target[0]]['type'])):
            return Proposal(key, target[0], target[1], 0.85, '"%s" is a synonym of %s' % (
                label or column, concept.replace('_', ' ')))
    for name, field in target_fields.items():
        if name in taken or name.startswith('x_') and name != 'x_' + key:
            continue
        if (key == name or key == normalize_header(field['string'])) and type_fits(info, field['type']):
            return Proposal(key, name, 'direct', 0.8, 'same name as the field "%s"' % field['string'])
    best, best_ratio = None, 0.0
    for name, field in target_fields.items():
        if name in taken or field['type'] not in TYPE_FITS.get(info['type'], ()):
            continue
        for candidate in (name, normalize_header(field['string'])):
            ratio = difflib.SequenceMatcher(None, key, candidate).ratio()
            if ratio > best_ratio:
                best, best_ratio = name, ratio
    if best and best_ratio >= FUZZY_MIN:
        return Proposal(key, best, 'direct', round(best_ratio * 0.75, 2), 'close to the field "%s" (%d%% similar) '
                        'and its values fit a %s field' % (target_fields[best]['string'], best_ratio * 100,
                                                           target_fields[best]['type']))
    if info['emails'] >= 0.8:
        target = CONCEPT_TARGETS.get(model, {}).get('email')
        if target and target[0] not in taken:
            return Proposal(key, target[0], target[1], 0.6, '%d%% of the values are e-mail addresses'
                            % (info['emails'] * 100))
    if info['phones'] >= 0.8 and info['type'] == 'char':
        target = CONCEPT_TARGETS.get(model, {}).get('phone')
        if target and target[0] not in taken:
            return Proposal(key, target[0], target[1], 0.5, '%d%% of the values are phone numbers'
                            % (info['phones'] * 100))
    name = ('x_' + key)[:63]
    reason = 'no field of %s matches; a new %s field, typed from %d values' % (model, info['type'], info['filled'])
    if fixed:
        reason = 'no field of %s matches; a new %s field: the column holds %s whatever the sample shows' % (
            model, info['type'], 'an id' if fixed == 'char' and not concept_of(label or column) else 'text')
    if info['type'] == 'selection':
        reason += ' (%d distinct: a dropdown)' % len(info['selection'])
    return Proposal(key, name, 'direct', 0.4, reason, new_type=info['type'], selection=info['selection'])


# Id-like column names: "Patient ID", "Invoice #" (normalised "invoice"), "Line", "MRN".
ID_LIKE = re.compile(r'(^|_)(id|number|no|num|nr|ref|reference|code|mrn|key|invoice|line|item|seq)$')
# What joins the columns of a composite source id in the link table ("1001|2"): a character
# id columns do not hold, so a single-column reference can still be told from the parts.
KEY_SEPARATOR = '|'


def guess_key_columns(keys, sample):
    """The source id column(s) when the template names none.

    One id-like column unique and never empty in the sample, else the
    first pair of id-like columns whose joined values are: invoice lines that only an invoice number and a
    line number tell apart.  ``[]`` when nothing identifies the rows.
    """
    def rank(key):
        return (key != 'id', not key.endswith('_id'), keys.index(key))

    def identifies(columns):
        values = [source_id_of(row, columns) for row in sample]
        return bool(values) and all(values) and len(set(values)) == len(values)

    id_like = sorted((k for k in keys if ID_LIKE.search(k)), key=rank)
    for key in id_like:
        if identifies([key]):
            return [key]
    # Pairs of id-like columns only: an id paired with a name would hide real duplicates.
    pairs = [(a, b) for i, a in enumerate(id_like) for b in id_like[i + 1:]]
    for pair in pairs:
        if identifies(list(pair)):
            return sorted(pair, key=keys.index)
    return []


def key_columns(source_key):
    """The columns of a stored source id setting ("invoice,line" -> ['invoice', 'line'])."""
    return [c.strip() for c in (source_key or '').split(',') if c.strip()]


def source_id_of(row, columns):
    """The source id of ``row``: its id column, or the id columns joined; '' when one is empty."""
    parts = [value_to_text(row.get(column)).strip() for column in columns]
    return KEY_SEPARATOR.join(parts) if parts and all(parts) else ''
