# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Score the mapping proposal over the export-dialect corpus.

    python bench/proposal_accuracy.py [--min 95] [--verbose] [DIALECT ...]

For every dialect folder of ``tests/fixtures/dialects`` (and any other folder holding an
``expected.json``), each CSV file goes through the steps an upload takes, with the addon's own
code and no database: the object is recognised (``proposal.score_table``), its id column chosen
(``proposal.choose_key``), the ids of every table read, the template's lines bound to columns
(``proposal.bind_lines``) and every other column proposed (``proposal.propose``: a field, a
lookup of another table, or a new x_ field).  The answer key says what each column must feed;
a column is right when the proposal feeds exactly those targets.  The object and the id column
of each table count as one answer each.

The target models' fields come from ``bench/target_fields.json``, a snapshot written by
``bench/dump_target_fields.py`` inside ``odoo shell``.
"""
import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from connectors import converters, proposal, tabular  # noqa: E402 - the addon's pure package, without Odoo

CORPUS = os.path.join(ROOT, 'tests', 'fixtures')


class Line:
    def __init__(self, spec, fields):
        self.spec = spec
        self.groups = proposal.source_groups(spec)
        self.transform = spec.get('transform', 'direct')
        self.target = spec['target']
        self.ttype = (fields.get(self.target) or {}).get('type') or spec.get('type') or 'char'
        self.lookup_object = spec.get('lookup_object')
        self.enabled = spec.get('enabled', True)


class Obj:
    def __init__(self, spec, target_fields):
        self.name = spec['name']
        self.model = spec['target_model']
        self.spec = spec
        keys = spec.get('source_key') or []
        self.candidates = [keys] if isinstance(keys, str) else list(keys)
        self.fields = target_fields.get(self.model, {})
        self.lines = [Line(f, self.fields) for f in spec.get('fields', [])]


def load(path):
    with open(path, encoding='utf-8') as handle:
        return json.load(handle)


def read_table(path):
    def opener():
        return open(path, 'rb')
    table = tabular.CsvTable(os.path.basename(path), os.path.basename(path), opener)
    headers = table.headers()
    return table, headers


def propose_dialect(folder, target_fields):  # noqa: C901 - the upload's steps, in order
    """``{file: {'object', 'key', 'columns': {header: set of answers}}}`` as the addon proposes them."""
    expected = load(os.path.join(folder, 'expected.json'))
    template = load(os.path.join(ROOT, 'data', 'templates', expected['template'] + '.json'))
    objects = [Obj(spec, target_fields) for spec in template['objects']]
    tables = {}
    for file_name in expected['tables']:
        table, headers = read_table(os.path.join(folder, file_name))
        tables[file_name] = (table, headers, table.sample(200))
    # Which object each table is (as the upload wizard's detection), the best fit first taken.
    detected, taken = {}, set()
    for file_name, (_table, headers, _sample) in tables.items():
        keys = [k for k, _l in headers]
        best, best_score = None, 1.0
        for obj in objects:
            if obj.name in taken or obj.spec.get('source_object'):
                continue
            score = proposal.score_table(
                os.path.splitext(file_name)[0], keys, obj.spec.get('file_patterns') or [],
                obj.spec.get('exclude_patterns') or [], obj.candidates,
                [g for line in obj.lines for g in line.groups])
            if score > best_score:
                best, best_score = obj, score
        if best:
            detected[file_name] = best
            taken.add(best.name)
    # The export's date order, as the project detects it on upload (one day above 12 tells).
    day_first = converters.detect_day_first([
        value for _table, _headers, sample in tables.values() for row in sample
        for key, value in row.items() if key != '_line_nr' and isinstance(value, str)])
    words = {}
    for file_name, obj in detected.items():
        own = proposal.own_words(obj.name, os.path.splitext(file_name)[0])
        foreign = set()
        for other in objects:
            if other is not obj:
                foreign |= proposal.own_words(other.name)
        words[file_name] = (own, foreign - own)
    keys_of, ids_of = {}, {}
    for file_name, obj in detected.items():
        table, headers, sample = tables[file_name]
        own, foreign = words[file_name]
        key = proposal.choose_key([k for k, _l in headers], sample, dict(headers), own, obj.candidates, foreign)
        keys_of[file_name] = key
        if key:
            ids_of[obj.name] = {proposal.source_id_of(row, key) for row in table.iter_rows()} - {''}
    result = {}
    for file_name, (_table, headers, sample) in tables.items():
        obj = detected.get(file_name)
        labels = dict(headers)
        columns = {labels[k]: set() for k, _l in headers}
        result[file_name] = {'object': obj.name if obj else None, 'key': keys_of.get(file_name, []),
                             'columns': columns, 'names': {}}
        if not obj:
            continue
        own, _foreign = words[file_name]
        key = keys_of[file_name]
        others = {name: ids for name, ids in ids_of.items() if name != obj.name}
        bound = proposal.bind_lines(obj.lines, headers, sample, own=own, key=key,
                                    key_candidates=obj.candidates, ids_of=others, day_first=day_first)
        used = set(key)
        for line, found in bound.items():
            used.update(found.columns)
            for column in found.columns:
                columns[labels[column]].add(line.target)
        taken_targets = {line.target for line, found in bound.items() if found.columns and line.enabled}
        names = {line.target for line in obj.lines}
        for column, label in headers:
            if column in used:
                continue
            values = [row.get(column) for row in sample]
            found = proposal.propose(column, label, values, obj.model, obj.fields, taken=taken_targets,
                                     ids_of=others, own=own, names=names)
            if found.transform == 'lookup':
                answer = 'lookup:%s' % found.lookup_object
            elif found.new_type:
                answer = 'new'
            else:
                answer = found.target
            columns[label].add(answer)
            result[file_name]['names'][label] = found.target
            taken_targets.add(found.target)
            names.add(found.target)
    return expected, result


def score(folder, target_fields, verbose=False, out=sys.stdout):
    expected, proposed = propose_dialect(folder, target_fields)
    right = total = 0
    misses = []
    for file_name, answer in expected['tables'].items():
        got = proposed[file_name]
        total += 2
        if got['object'] == answer['object']:
            right += 1
        else:
            misses.append('%s: object %s, expected %s' % (file_name, got['object'], answer['object']))
        if got['key'] == answer['key']:
            right += 1
        else:
            misses.append('%s: id column %s, expected %s' % (file_name, got['key'], answer['key']))
        for header, wanted in answer['columns'].items():
            wanted = {wanted} if isinstance(wanted, str) else set(wanted)
            total += 1
            if got['columns'].get(header) == wanted:
                right += 1
            else:
                misses.append('%s / %s: %s, expected %s' % (
                    file_name, header, sorted(got['columns'].get(header) or []) or '-', sorted(wanted)))
    name = os.path.basename(folder)
    out.write('%-16s %3d / %3d  %5.1f %%\n' % (name, right, total, 100.0 * right / total))
    if verbose:
        for miss in misses:
            out.write('    miss: %s\n' % miss)
    return right, total, proposed


def dialect_folders(names=()):
    folders = []
    for base in (os.path.join(CORPUS, 'dialects'), CORPUS):
        for name in sorted(os.listdir(base)):
            folder = os.path.join(base, name)
            if os.path.isfile(os.path.join(folder, 'expected.json')) and folder not in folders:
                if not names or name in names:
                    folders.append(folder)
    return folders


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('dialects', nargs='*')
    parser.add_argument('--min', type=float, default=None, help="exit 1 below this share (percent)")
    parser.add_argument('--verbose', '-v', action='store_true', help="list every miss")
    args = parser.parse_args(argv)
    target_fields = load(os.path.join(ROOT, 'bench', 'target_fields.json'))
    right = total = 0
    for folder in dialect_folders(args.dialects):
        r, t, _proposed = score(folder, target_fields, args.verbose)
        right, total = right + r, total + t
    share = 100.0 * right / total if total else 0.0
    print('%-16s %3d / %3d  %5.1f %% of the columns right' % ('all', right, total, share))
    if args.min is not None and share < args.min:
        print('below the target of %.1f %%' % args.min)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
