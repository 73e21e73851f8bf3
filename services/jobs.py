# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Optional scale-out on OCA ``queue_job``: when to use it, and its channel.

crm_migration never depends on queue_job (the manifest does not name it):
everything here is looked up at run time, and without queue_job a run takes
the ``ir.cron`` path as before.
"""
import logging

from odoo.tools import config

_logger = logging.getLogger(__name__)

# System parameter: "auto" (default), "1" (always when installed) or "0" (never).
PARAM = 'crm_migration.use_queue_job'
CHANNEL = 'root.crm_migration'
# The job methods of crm.migration.run, so that queue_job lists them under our channel.
JOB_METHODS = ('_job_plan', '_job_load_batch', '_job_close_object', '_job_finish')


def installed(env):
    """queue_job is installed in this database (its models are in the registry)."""
    return 'queue.job' in env and 'queue.job.function' in env


def enabled(env):
    """Whether new full runs go to queue_job rather than to the cron.

    "auto" uses it when queue_job is installed *and* its job runner is loaded
    in this server (``--load=web,queue_job``, what queue_job's own install notes
    ask for): installed without a runner, jobs would wait forever, so the cron
    keeps the run.  "1" is for a runner started on its own
    (``python -m odoo.addons.queue_job.jobrunner``).
    """
    if not installed(env):
        return False
    value = (env['ir.config_parameter'].sudo().get_param(PARAM) or 'auto').strip().lower()
    if value in ('0', 'false', 'no', 'off'):
        return False
    if value in ('1', 'true', 'yes', 'on'):
        return True
    return 'queue_job' in (config['server_wide_modules'] or [])


def ensure_channel(env):
    """The ``root.crm_migration`` channel and our job functions on it, created once.

    Created from code rather than from an XML file, which would make queue_job a
    dependency.  The runner's capacity for the channel comes from the server's
    configuration (``[queue_job] channels = root:4,root.crm_migration:2``).
    """
    Channel = env['queue.job.channel'].sudo()
    channel = Channel.search([('complete_name', '=', CHANNEL)], limit=1)
    if not channel:
        channel = Channel.create({'name': CHANNEL.split('.')[-1], 'parent_id': env.ref('queue_job.channel_root').id})
    Function = env['queue.job.function'].sudo()
    model = env['ir.model']._get('crm.migration.run')
    for method in JOB_METHODS:
        name = '<crm.migration.run>.%s' % method
        if not Function.search([('name', '=', name)], limit=1):
            # Retries are for races between two batches (a link row or a tag inserted by both):
            # seconds, not queue_job's default ten minutes.
            Function.create({'model_id': model.id, 'method': method, 'channel_id': channel.id,
                             'retry_pattern': {1: 1, 5: 5, 10: 30}})
    return channel


def plan_object(obj, rows, size):
    """Count the rows of ``obj`` and say whether its batches must load in file order.

    Rows of one object meet across batches in three ways, and the cron's file
    order decides who wins: a source id twice (the first line is the record, the
    next a duplicate), a duplicate key twice (the first is created, the next held
    back: two practitioners sharing an e-mail), a duplicate resolved as merged
    into another row of the object.  In parallel the batch that commits first
    would win instead, so such an object's batches form a chain in file order
    (still alongside the other objects).  Returns ``(rows, reason or None)``.
    """
    from .loader import _dedup_key, active_lines  # noqa: PLC0415 (loader imports the ORM side)

    merged = obj.env['crm.migration.issue'].search_count([
        ('object_id', '=', obj.id), ('kind', '=', 'duplicate'), ('resolution', '=', 'merge'),
        ('state', '!=', 'open'), ('related_source_id', '!=', False)], limit=1)
    reason = "a duplicate is merged into another row" if merged else None
    columns = sorted({column for line in active_lines(obj) if obj.dedup_field and line.target_field == obj.dedup_field
                      for column in line._source_list()})
    # Where each id or key was first seen: (kind, value) -> batch index.  Hashes keep a
    # million rows in a few tens of MiB; a collision only costs parallelism.
    first = {}
    count = 0
    for count, row in enumerate(rows, start=1):
        if reason or (obj.row_filter and not obj._row_matches(row)):
            continue
        batch = (count - 1) // size
        keys = []
        if obj.source_key:
            keys.append(('id', obj._row_source_id(row)))
        values = tuple(_dedup_key(str(row[column])) if row.get(column) not in (None, '') else None
                       for column in columns)
        if any(values):
            keys.append(('key', values))
        for key in keys:
            if not key[1]:
                continue
            seen = first.setdefault(hash(key), batch)
            if seen != batch:
                reason = ("source id %s appears in two batches" % key[1] if key[0] == 'id'
                          else "duplicate key %s appears in two batches" % ', '.join(filter(None, key[1])))
                first.clear()
                break
    return count, reason
