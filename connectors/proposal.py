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
import hashlib
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
    'job_title': ['title', 'job_title', 'position', 'function', 'role', 'occupation', 'designation',
                  'profession_title'],
    'license': ['license_number', 'licence_number', 'registration_number', 'provider_number', 'license',
                'registration', 'npi', 'gmc_number', 'hcpc_number', 'ahpra_number', 'ahpra_registration'],
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
    lookup_object: str = None       # a lookup: the object whose ids the column holds


# Words that alone say what a column is, wherever they stand in the header ("AHPRA Registration No").
CONCEPT_WORDS = {'license': {'license', 'licence', 'registration', 'gmc', 'hcpc', 'ahpra', 'npi', 'licensure'}}
# Salutations: a "Title" column holding them is not a job title.
SALUTATIONS = {'mr', 'mrs', 'ms', 'miss', 'mx', 'dr', 'prof', 'sir', 'madam', 'master', 'rev', 'mme', 'mlle', 'herr',
               'frau', 'sr', 'sra', 'srta'}


def concept_of(column):
    key = normalize_header(column)
    for concept, spellings in SYNONYMS.items():
        if key in spellings:
            return concept
    words = set(key.split('_'))
    for concept, marks in CONCEPT_WORDS.items():
        if words & marks:
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
    'amount': lambda info: info['type'] in ('integer', 'float') or info['amounts'] >= 0.8,
    'job_title': lambda info: info['salutations'] < 0.5,
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


def profile(values, day_first=None):
    """What the values of a column look like: ``{'type', 'selection', 'emails', 'phones', 'filled'}``.

    ``day_first``: the export's date order when known (03/04/2024 is then a date, not text)."""
    filled = [v for v in values if not converters.is_empty(v)]
    ttype, selection = converters.infer_type(filled, day_first)
    texts = [str(v).strip() for v in filled]
    emails = sum(1 for t in texts if converters.looks_like_email(t))
    phones = sum(1 for t in texts if all(is_phone(part) for part in re.split(r'\s*[;,|]\s*|\s+/\s+', t) if part))
    amounts = sum(1 for t in texts if AMOUNT_RE.match(t))
    salutations = sum(1 for t in texts if t.lower().rstrip('.') in SALUTATIONS)
    return {
        'type': ttype, 'selection': tuple(selection), 'filled': len(texts),
        'emails': emails / len(texts) if texts else 0.0, 'phones': phones / len(texts) if texts else 0.0,
        'amounts': amounts / len(texts) if texts else 0.0,
        'salutations': salutations / len(texts) if texts else 0.0,
    }


# "$90.00", "AUD 1,250.50", "90,00 €", "(12.50)": a currency amount, which infer_type leaves as text.
AMOUNT_RE = re.compile(r'^\(?-?(?:[A-Z]{3}\s?|[$€£¥]\s?)?-?\d{1,3}(?:[,. ]?\d{3})*(?:[.,]\d{1,2})?'
                       r'(?:\s?[$€£¥]|\s?[A-Z]{3})?\)?$')


def is_phone(text):
    """One phone number (digits, spaces, + ( ) . / -), not an IP address nor a date."""
    return bool(re.match(r'^\+?[\d ()./-]{7,}$', text) and len(re.sub(r'\D', '', text)) >= 7
                and not IPV4_RE.match(text) and not converters.looks_like_date(text))


def propose(column, label, values, model, target_fields, template_lines=(), taken=(), ids_of=None, own=(),  # noqa: C901
            names=()):
    """The best proposal for one source column.

    ``target_fields``: ``{name: {'string', 'type'}}`` of the target model.
    ``template_lines``: objects with ``candidates`` (set of column keys),
    ``target`` and ``transform``, and an optional ``concept``.
    ``taken``: targets already fed by another column (a second column for
    the same target becomes an x_ field instead of overwriting it).
    ``ids_of``: ``{object name: ids}`` of the other uploaded tables: a column holding one
    of them is a lookup of that object.  ``own``: the words by which the table names its
    rows (``own_words``).  ``names``: field names a new x_ field may not take.
    """
    key = normalize_header(column)
    info = profile(values)
    spelt = label or column
    fixed = known_text_type(key, concept_of(spelt) or concept_of(canonical(spelt)))
    if fixed and info['type'] not in ('char', 'text'):
        info = dict(info, type=fixed, selection=())
    for line in template_lines:
        if key in line.candidates:
            return Proposal(key, line.target, line.transform, 1.0,
                            'listed for %s in the source template' % line.target, template_line=line)
    looked_up = lookup_of(spelt, values, ids_of, own)
    if looked_up:
        name = new_field_name(stripped(spelt, own_words(looked_up)) + '_id' if not is_id_like(spelt) else spelt,
                              key, set(taken) | set(names))
        return Proposal(key, name, 'lookup', 0.8, 'the values of "%s" are ids of %s: a link to those records'
                        % (spelt, looked_up), new_type='many2one', lookup_object=looked_up)
    concept = concept_of(label or column) or concept_of(canonical(spelt)) or concept_of(stripped(spelt, own))
    if concept and not values_fit(concept, info):
        concept = None
    found = (_by_concept(key, label or column, concept, info, model, target_fields, template_lines, taken)
             or _by_field_name(key, info, target_fields, taken)
             or _by_values(key, info, model, taken))
    if found:
        return found
    # Named after the column's key, as every x_ field of the addon (x_cf_client_tier for a Clio custom field):
    # always valid and at most 63 characters, a header of symbols or another script falls back on its label.
    name = new_field_name(key or spelt, key, set(taken) | set(names))
    reason = 'no field of %s matches; a new %s field, typed from %d values' % (model, info['type'], info['filled'])
    if fixed:
        reason = 'no field of %s matches; a new %s field: the column holds %s whatever the sample shows' % (
            model, info['type'], 'an id' if fixed == 'char' and not concept_of(label or column) else 'text')
    if info['type'] == 'selection':
        reason += ' (%d distinct: a dropdown)' % len(info['selection'])
    return Proposal(key, name, 'direct', 0.4, reason, new_type=info['type'], selection=info['selection'])


def _by_concept(key, spelt, concept, info, model, target_fields, template_lines, taken):
    """A synonym of a known concept: the template's line for it, else the model's field for it."""
    if not concept:
        return None
    for line in template_lines:
        if getattr(line, 'concept', None) == concept and line.target not in taken:
            return Proposal(key, line.target, line.transform, 0.9, '"%s" is a synonym of %s (template line %s)'
                            % (spelt, concept.replace('_', ' '), line.target), template_line=line)
    target = CONCEPT_TARGETS.get(model, {}).get(concept)
    if target and target[0] in target_fields and target[0] not in taken \
            and (target[1] != 'direct' or type_fits(info, target_fields[target[0]]['type'])):
        return Proposal(key, target[0], target[1], 0.85, '"%s" is a synonym of %s' % (
            spelt, concept.replace('_', ' ')))
    return None


def _by_field_name(key, info, target_fields, taken):
    """A field of the same name or label, else one whose name is close and whose type fits the values."""
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
    return None


def _by_values(key, info, model, taken):
    """Values that are e-mail addresses or phone numbers, whatever the column's name."""
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
    return None


# Id-like column names: "Patient ID", "Invoice #" (normalised "invoice"), "Line", "MRN".
ID_LIKE = re.compile(r'(^|_)(id|number|no|num|nr|ref|reference|code|mrn|key|invoice|line|item|seq)$')
# What joins the columns of a composite source id in the link table ("1001|2"): a character
# id columns do not hold, so a single-column reference can still be told from the parts.
KEY_SEPARATOR = '|'


def guess_key_columns(keys, sample, labels=None, own=(), candidates=(), foreign=()):
    """The source id column(s) of a table.

    First a spelling the template lists for the object's id (``candidates``, read as ``canonical``
    spellings: "Appt ID" is appointment_id) whose values identify the sample's rows; else the id-like
    column whose name says it is the row's own id ("ID", "Patient ID" in a patients table, "Invoice #" in
    invoices) before any other id-like one, never a number of something else (a licence, a claim, a phone)
    nor an id naming another table (``foreign`` words: "Practitioner ID" in appointments); else the first
    pair of id-like columns whose joined values are unique (invoice lines that only an invoice number and
    a line number tell apart).  ``[]`` when nothing identifies the rows.
    """
    labels = labels or {}

    def spelt(key):
        return labels.get(key) or key

    def identifies(columns):
        values = [source_id_of(row, columns) for row in sample]
        return bool(values) and all(values) and len(set(values)) == len(values)

    wanted = [canonical(c) for c in candidates]
    for rank_of in (lambda k: k, lambda k: canonical(spelt(k)), lambda k: stripped(spelt(k), own)):
        for candidate in wanted:
            for key in keys:
                if canonical(rank_of(key)) == candidate and identifies([key]):
                    return [key]

    def rank(key):
        words = header_words(spelt(key))
        rest = [w for w in words if _singular(w) not in own]
        foreign_words = set(words) & FOREIGN_NUMBER_WORDS
        names_other = bool({_singular(w) for w in rest} & set(foreign))
        if not rest or rest in (['id'], ['number'], ['reference'], ['mrn']):
            level = 0
        elif foreign_words or names_other:
            level = 3
        elif len(rest) < len(words):
            level = 1  # "patient_record_number" in patients
        else:
            level = 2
        return (level, key != 'id', keys.index(key))

    id_like = sorted((k for k in keys if ID_LIKE.search(k) or is_id_like(spelt(k))), key=rank)
    for key in id_like:
        if rank(key)[0] < 3 and identifies([key]):
            return [key]
    # Pairs of id-like columns only: an id paired with a name would hide real duplicates.
    pairs = [(a, b) for i, a in enumerate(id_like) for b in id_like[i + 1:]]
    for pair in pairs:
        if identifies(list(pair)):
            return sorted(pair, key=keys.index)
    return []


def choose_key(keys, sample, labels=None, own=(), candidates=(), foreign=()):
    """The id column(s) of a table: a spelling the template lists, present as it is (duplicates in it
    are the audit's to report), else ``guess_key_columns``."""
    listed = next((c for c in candidates if c in keys), None)
    if listed:
        return [listed]
    return guess_key_columns(keys, sample, labels, own, candidates, foreign)


def score_table(table_name, header_keys, file_patterns=(), exclude_patterns=(), candidates=(), groups=()):
    """How well a table (by its name and header) fits a source object; <= 0 means no.

    The name counts most (``file_patterns``), then an id column the object lists, then the share of
    the object's column groups the header has (as listed, or spelt otherwise: "Appt ID").
    """
    name = normalize_header(table_name)
    if any(p in name for p in exclude_patterns):
        return 0
    score = 0.0
    if any(p in name for p in file_patterns):
        score += 3
    keys = set(header_keys)
    spelt = {canonical(k) for k in keys}
    if any(c in keys for c in candidates):
        score += 1
    if groups:
        score += 2 * sum(1 for group in groups if keys.intersection(group)
                         or spelt.intersection(canonical(c) for c in group)) / len(groups)
    return score


def key_columns(source_key):
    """The columns of a stored source id setting ("invoice,line" -> ['invoice', 'line'])."""
    return [c.strip() for c in (source_key or '').split(',') if c.strip()]


def source_id_of(row, columns):
    """The source id of ``row``: its id column, or the id columns joined; '' when one is empty."""
    parts = [value_to_text(row.get(column)).strip() for column in columns]
    return KEY_SEPARATOR.join(parts) if parts and all(parts) else ''


# ----------------------------------------------------------------------
# Header words: what a header says once its spelling is set aside
# ----------------------------------------------------------------------
# Abbreviations and plural spellings read as the word they stand for ("Appt Date", "Duration (min)",
# "Invoice #", "Phones"); applied word by word, so "appt_id" reads as "appointment_id".
WORD_SYNONYMS = {
    'appt': 'appointment', 'apt': 'appointment', 'appts': 'appointment', 'appointments': 'appointment',
    'no': 'number', 'num': 'number', 'nr': 'number', 'nbr': 'number', 'numbers': 'number', 'n': 'number',
    'qty': 'quantity', 'desc': 'description', 'descr': 'description', 'amt': 'amount', 'amnt': 'amount',
    'min': 'minutes', 'mins': 'minutes', 'minute': 'minutes', 'tel': 'phone', 'telephone': 'phone',
    'ph': 'phone', 'phones': 'phone', 'mob': 'mobile', 'addr': 'address', 'dt': 'date', 'cust': 'customer',
    'pt': 'patient', 'patients': 'patient', 'prac': 'practitioner', 'practitioners': 'practitioner',
    'clinician': 'practitioner', 'doc': 'document', 'docs': 'document', 'documents': 'document',
    'licence': 'license', 'ref': 'reference', 'fname': 'first_name', 'lname': 'last_name',
    'forename': 'first_name', 'surname': 'last_name', 'dob': 'date_of_birth', 'e': 'e', 'emails': 'email',
    'clients': 'client', 'invoices': 'invoice', 'items': 'item', 'lines': 'line', 'filename': 'file_name',
    'firstname': 'first_name', 'lastname': 'last_name', 'zipcode': 'zip_code', 'postalcode': 'postal_code',
    'starttime': 'start_time', 'endtime': 'end_time', 'datetime': 'date_time', 'ids': 'id', 'identifier': 'id',
    'uid': 'id', 'guid': 'id', 'key': 'id', 'hrs': 'hours', 'unitprice': 'unit_price', 'cell': 'mobile',
    'gst': 'tax', 'vat': 'tax',
}
# Header words that mean "this column identifies something".
ID_WORDS = {'id', 'number', 'reference', 'code', 'mrn'}
# Numbers that identify something else than the row: a practitioner's licence, an insurance claim.
FOREIGN_NUMBER_WORDS = {
    'license', 'registration', 'provider', 'medicare', 'npi', 'abn', 'tax', 'phone', 'mobile', 'policy',
    'member', 'membership', 'insurance', 'health', 'claim', 'card', 'account', 'bank', 'dva', 'fax', 'ahpra',
    'item', 'product', 'service', 'postcode', 'zip', 'street', 'house', 'room', 'batch', 'tracking',
}


def split_camel(label):
    """``"PractitionerID"`` -> ``"Practitioner ID"``, ``"startDateTime"`` -> ``"start Date Time"``."""
    text = re.sub(r'([a-z0-9])([A-Z])', r'\1 \2', str(label or ''))
    return re.sub(r'([A-Z]+)([A-Z][a-z])', r'\1 \2', text)


def header_words(label):
    """The words of a header, abbreviations spelt out: ``"Appt. Duration (min)"`` -> appointment, duration, minutes."""
    text = split_camel(label).replace('#', ' number ').replace('№', ' number ')
    words = []
    for word in normalize_header(text).split('_'):
        if not word:
            continue
        words.extend(WORD_SYNONYMS.get(word, word).split('_'))
    return words


def canonical(label):
    """One spelling for the headers that say the same thing: ``"Appt ID"`` and ``"appointment_id"``."""
    return '_'.join(header_words(label))


def _singular(word):
    return word[:-1] if len(word) > 4 and word.endswith('s') and not word.endswith(('ss', 'us')) else word


def own_words(*names):
    """The words by which a table names its own rows (``patients`` -> patient), to drop from its headers."""
    words = set()
    for name in names:
        for word in header_words(name):
            words.add(_singular(word))
    return words - ID_WORDS - {'name', 'date', 'type', 'status'}


def stripped(label, own=()):
    """The header without the table naming itself: "Patient First Name" in patients -> first_name."""
    words = header_words(label)
    rest = [w for w in words if _singular(w) not in own]
    return '_'.join(rest) if rest and len(rest) < len(words) else '_'.join(words)


def is_id_like(label):
    words = header_words(label)
    return bool(words) and words[-1] in ID_WORDS | {'mrn'}


# ----------------------------------------------------------------------
# Template lines: which column feeds each line
# ----------------------------------------------------------------------
@dataclasses.dataclass
class LineBinding:
    columns: list
    confidence: float
    reasons: list
    joined: bool = False  # the line reads a composite id: its columns joined by KEY_SEPARATOR


def value_fits_line(line, info, ids_of=None, values=()):
    """True when a column's values can be what a template line reads (no values: no objection)."""
    if not info['filled']:
        return True
    transform, ttype = line.transform, getattr(line, 'ttype', None)
    if transform == 'email':
        return info['emails'] >= 0.5
    if transform in ('first_phone', 'other_phones'):
        return info['phones'] >= 0.5
    if transform == 'lookup':
        ids = (ids_of or {}).get(getattr(line, 'lookup_object', None))
        return ids is None or containment(values, ids) >= 0.5
    if transform in ('direct', 'concat') and ttype in ('date', 'datetime'):
        return info['type'] in ('date', 'datetime')
    if transform == 'direct' and ttype in ('integer', 'float', 'monetary'):
        return info['type'] in ('integer', 'float') or info['amounts'] >= 0.8
    return True


def containment(values, ids):
    """Share of the filled values that are ids of another table (0 when nothing to compare)."""
    texts = [value_to_text(v).strip() for v in values if not converters.is_empty(v)]
    if not texts or not ids:
        return 0.0
    return sum(1 for t in texts if t in ids) / len(texts)


def _group_score(group, key, label, own):
    """How well a column fits one of a template line's column groups, and why:
    ``(score, reason)``, 1 listed as it is, 0 not at all."""
    if key in group:
        return 1.0, 'listed'
    spelt = {canonical(c) for c in group}
    if canonical(label) in spelt:
        return 0.95, 'reads as %s' % canonical(label).replace('_', ' ')
    if stripped(label, own) in spelt:
        return 0.9, 'reads as %s in this table' % stripped(label, own).replace('_', ' ')
    concept = concept_of(canonical(label)) or concept_of(stripped(label, own))
    if concept and concept in {concept_of(c) for c in group}:
        return 0.9, 'is a synonym of %s' % concept.replace('_', ' ')
    bare = stripped(label, own)
    bare_words = set(bare.split('_'))
    best = (0.0, '')
    generic = ID_WORDS | {'name', 'date', 'type', 'time', 'amount', 'total', 'status', 'note', 'notes'}
    for candidate in sorted(spelt):
        parts = set(candidate.split('_'))
        # "duration" in "duration_in_minutes", "start" in "appointment_start_date_time"
        if parts <= bare_words and not parts <= generic:
            best = max(best, (0.6 + 0.2 * len(parts) / max(len(bare_words), 1),
                              'says %s' % candidate.replace('_', ' ')))
        ratio = difflib.SequenceMatcher(None, bare, candidate).ratio()
        if ratio >= 0.86 and len(candidate) > 4:
            best = max(best, (round(ratio * 0.8, 2), 'is close to %s' % candidate.replace('_', ' ')))
    return best


def bind_lines(lines, headers, sample, own=(), key=(), key_candidates=(), ids_of=None,  # noqa: C901
               day_first=None):
    """Which columns feed each template line.

    ``lines``: objects with ``groups`` (alternatives per source column), ``transform``, ``target``, and
    optionally ``ttype`` (the target's type) and ``lookup_object`` (an object name).
    ``key``: the id column(s) chosen for the table; ``key_candidates``: the template's id spellings.
    ``ids_of``: ``{object name: set of ids}`` of the other uploaded tables (lookups are checked against them).
    Returns ``{line: LineBinding}``, an empty binding (``columns == []``) for a line no column fits.

    A listed column serves every line listing it; any other column goes to one group only, the best
    fitting, and only when its values fit the line (dates for a date line, ids of the looked-up table...).
    """
    keys = [k for k, _l in headers]
    labels = dict(headers)
    headers_by_key = dict(headers)  # as the file spells them, for the reasons
    values = {k: [row.get(k) for row in sample] for k in keys}
    infos = {k: profile(values[k], day_first) for k in keys}
    for k in keys:
        fixed = known_text_type(k, concept_of(labels[k] or k))
        if fixed and infos[k]['type'] not in ('char', 'text'):
            infos[k] = dict(infos[k], type=fixed, selection=())
    result = {line: LineBinding([], 1.0, []) for line in lines}
    pending = []  # (line, group index) without a listed column
    plans = {}
    for line in lines:
        groups = line.groups or []
        plan = []
        for index, group in enumerate(groups):
            present = [c for c in group if c in keys]
            if present:
                plan.append(present if line.transform in ('first_phone', 'other_phones') else present[:1])
            else:
                plan.append(None)
                pending.append((line, index))
        plans[line] = plan
    used = {c for plan in plans.values() for chosen in plan if chosen for c in chosen}
    # The id line reads the id column(s), however they are spelt; a composite id joined ("1001|2").
    key_spellings = {canonical(c) for c in key_candidates}
    for line, index in list(pending):
        group = {canonical(c) for c in line.groups[index]}
        if key and key_spellings and len(line.groups) == 1 and line.transform == 'direct' \
                and len(group & key_spellings) * 2 >= len(group):
            plans[line][index] = list(key)
            used.update(key)
            result[line].joined = len(key) > 1
            result[line].reasons.append('%s identify the rows' % ' + '.join(
                '"%s"' % (labels.get(k) or k) for k in key))
            result[line].confidence = min(result[line].confidence, 0.9)
            pending.remove((line, index))
    # A header that only names the table's rows ("Clinician" in clinicians) holds their name.
    for column in keys:
        words = header_words(labels.get(column) or column)
        if words and own and all(_singular(w) in own for w in words) and infos[column]['type'] in ('char', 'text'):
            labels[column] = 'Name'
    # Other columns: best score first, one signature (the same alternatives) per column.
    signatures = {}
    for line, index in pending:
        signatures.setdefault(tuple(line.groups[index]), []).append((line, index))
    scored = []
    for signature, members in signatures.items():
        for column in keys:
            if column in used and not (len(key) > 1 and column in key):
                continue  # the parts of a composite id may also be looked up (the invoice of a line)
            score, why = _group_score(list(signature), column, labels.get(column) or column, own)
            if score < 0.6:
                score = _shape_score(members, signature, labels.get(column) or column, infos[column], own)
                why = 'holds what %s holds' % signature[0].replace('_', ' ')
            if score < 0.6 and ids_of:
                # A column holding another table's ids feeds the line looking that table up.
                for line, _index in members:
                    ids = ids_of.get(getattr(line, 'lookup_object', None))
                    if line.transform == 'lookup' and ids and is_id_like(labels.get(column) or column) \
                            and containment(values[column], ids) >= 0.8:
                        score, why = 0.8, 'holds ids of %s' % line.lookup_object
            if score < 0.6:
                continue
            if not all(value_fits_line(line, infos[column], ids_of, values[column]) for line, _i in members):
                continue
            scored.append((score, -keys.index(column), signature, column, why))
    scored.sort(reverse=True)
    taken = {}
    for score, _order, signature, column, why in scored:
        members = signatures[signature]
        phones = all(line.transform in ('first_phone', 'other_phones') for line, _i in members)
        if (column in used and not (len(key) > 1 and column in key)) or (signature in taken and not phones):
            continue
        used.add(column)
        taken.setdefault(signature, []).append(column)
        for line, index in members:
            plans[line][index] = (plans[line][index] or []) + [column]
            result[line].confidence = min(result[line].confidence, score)
            result[line].reasons.append('"%s" %s' % (headers_by_key.get(column) or column, why))
    for line, plan in plans.items():
        result[line].columns = list(dict.fromkeys(c for chosen in plan if chosen for c in chosen))
        if line.transform == 'concat' and result[line].columns and not all(plan):
            # First name without a last name: the name is the first name alone (still worth a look).
            result[line].confidence = min(result[line].confidence, 0.5)
            result[line].reasons.append('only part of the columns found')
    return result


def _stem(word):
    for suffix in ('ing', 'ed', 'es', 's'):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            word = word[:-len(suffix)]
            break
    return word[:-1] if len(word) > 4 and word.endswith('e') else word


def _shape_score(members, signature, label, info, own):
    """A weaker fit when the spelling alone does not tell: the header shares a word with one of the
    line's spellings and the values have the line's shape ("Issued" holding dates for the order date,
    "CPT Code" for the product code)."""
    if not info['filled']:
        return 0.0
    words = stripped(label, own).split('_')
    stems = {_stem(w) for w in words}
    generic = ID_WORDS | {'name', 'date', 'type', 'time', 'status', 'note', 'by', 'at', 'on', 'of', 'in'}
    for candidate in signature:
        parts = canonical(candidate).split('_')
        shared = {_stem(p) for p in parts if p not in generic} & stems
        typed = [getattr(line, 'ttype', None) for line, _i in members]
        if shared and any(t in ('date', 'datetime') for t in typed) and info['type'] in ('date', 'datetime'):
            return 0.65
        # "CPT Code" for a line listing "code": a code of something, not a number of something else.
        if len(parts) == 1 and parts[0] in ID_WORDS and words[-1] == parts[0] and len(words) <= 2 \
                and not set(words) & FOREIGN_NUMBER_WORDS and info['type'] in ('char', 'selection'):
            return 0.62
    return 0.0


def lookup_of(label, values, ids_of, own=()):
    """The other table whose ids a column holds (name of the object), or None.

    The values must be ids of that table (80 % of them at least) and the header must say it is an id or
    name that table; of several such tables, the one the header names wins.
    """
    if not ids_of:
        return None
    words = {_singular(w) for w in header_words(label)}
    best, best_rank = None, None
    for name, ids in ids_of.items():
        share = containment(values, ids)
        if share < 0.8:
            continue
        named = bool(own_words(name) & words)
        # Without a name that says so, only ids no other column could hold by chance ("S01", "48213017").
        distinctive = share >= 0.95 and len(set(map(str, values)) - {''}) >= 2 and all(
            re.search(r'\D', i) or len(i) >= 4 for i in ids)
        if not (named or is_id_like(label) or distinctive):
            continue
        rank = (named, share)
        if best_rank is None or rank > best_rank:
            best, best_rank = name, rank
    return best


def new_field_name(label, key, taken=(), prefix='x_'):
    """A valid new field name for a header, <= 63 characters and not in ``taken``.

    Lowercase ASCII letters, digits and single underscores (accents dropped, other scripts and symbols
    become ``column``); a long header is cut at a word and ends with a short digest so two long
    headers sharing their start still get two names.
    """
    base = normalize_header(split_camel(label)) or normalize_header(key) or 'column'
    base = re.sub(r'_+', '_', base).strip('_') or 'column'
    name = prefix + base
    if len(name) > 63:
        digest = hashlib.sha1(base.encode()).hexdigest()[:6]
        head = name[:63 - 7].rstrip('_')
        name = '%s_%s' % (head, digest)
    candidate, suffix = name, 2
    while candidate in taken:
        tail = '_%d' % suffix
        candidate = name[:63 - len(tail)].rstrip('_') + tail
        suffix += 1
    return candidate


# A template line's transforms that read every one of its source columns (not alternatives).
PHONE_TRANSFORMS = ('first_phone', 'other_phones')


def source_groups(spec):
    """Alternatives per source column: ``[["first_name", "given_name"], ["last_name", ...]]``."""
    sources = spec.get('sources') or []
    if not sources:
        return []
    if any(isinstance(source, list) for source in sources):
        return [source if isinstance(source, list) else [source] for source in sources]
    if spec.get('transform') in PHONE_TRANSFORMS:
        return [[source] for source in sources]  # every phone column is read
    return [list(sources)]
