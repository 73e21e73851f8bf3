# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Choose the rows of a sample run: spread over each file and over the values
that drive a value map (every status, every appointment type), not the first
N rows, and closed over lookups (a sampled appointment brings its patient and
practitioner, so that it can land).
"""
from ..connectors import mapper as mapping
from .loader import active_lines


def select_sample(project, size):
    """``{object name: [source ids]}`` for about ``size`` records in all."""
    source = project._get_source()
    objects = project.object_ids.filtered('enabled')._sorted_for_load()
    totals = {obj: obj.row_count or source.count(obj._source_name()) or 0 for obj in objects}
    total = sum(totals.values()) or 1
    picked = {obj.name: set() for obj in objects}
    # Children first: the parents they point to are then added to the parents' sample.
    for obj in reversed(objects):
        rows = totals[obj]
        quota = min(rows, max(3, round(size * rows / total)))
        stride = max(1, rows // quota) if quota else rows + 1
        lines = active_lines(obj)
        mapped_columns = [line._source_list() for line in lines if line.value_map_ids or line.transform == 'value_map']
        lookups = [(line._source_list(), line.lookup_object_id.name) for line in lines
                   if line.transform == 'lookup' and line.lookup_object_id.name in picked]
        covered, chosen, seen = set(), picked[obj.name], set()
        spread = 0
        for index, row in enumerate(source.iter_rows(obj._source_name())):
            source_id = obj._row_source_id(row)
            if not source_id or not obj._row_matches(row):
                continue
            seen.add(source_id)
            combination = tuple(mapping.normalize_key(row.get(c)) for columns in mapped_columns for c in columns)
            take = source_id in chosen
            if mapped_columns and combination not in covered:
                covered.add(combination)
                take = True
            if not take and index % stride == stride // 2 and spread < quota:
                spread += 1
                take = True
            if not take:
                continue
            chosen.add(source_id)
            for columns, parent in lookups:
                for column in columns:
                    parent_id = mapping.value_to_text(row.get(column)).strip()
                    if parent_id:
                        picked[parent].add(parent_id)
        # A child pointing to a record missing from its file: nothing to sample there.
        chosen &= seen
    return {name: sorted(ids) for name, ids in picked.items()}
