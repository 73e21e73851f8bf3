# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The client side of bench/rollback_limits.sh: set a project up, queue runs for the
server's cron and watch them end, sampling the memory of the server's workers.

    python bench/limits_driver.py setup ODOO_CONF DB EXPORT_DIR BATCH
    python bench/limits_driver.py PHASE ODOO_CONF DB SERVER_PID TIMEOUT    (PHASE: audit, full, rollback)

``setup`` runs before the server starts (the x_ fields it creates change the schema).
A phase queues its run exactly as the buttons do (``_schedule`` triggers the cron), commits,
and then only reads: all the work is the server's.  It prints one JSON line: records,
seconds from the click to the end, records/s, the run's state, and the peak RSS and VMS
(what Odoo's limit_memory_* compare with) over the server's worker processes.
"""
import json
import sys
import time

import bench_phase


def odoo_env(conf, db):
    # This client never forks workers, whatever the server's configuration says.
    return bench_phase.odoo_env(conf, db, '--workers=0')


def setup(env, cr, export, batch):
    project = bench_phase.bench_project(env, 'limits bench', export, batch)
    project.action_confirm_mapping()
    cr.commit()
    return {'project_id': project.id, 'files': len(project.file_ids)}


def _queue(env, phase):
    project = env['crm.migration.project'].search([('name', '=', 'limits bench')], limit=1)
    if phase == 'audit':
        project._start_audit(step_now=False)
        return project.run_ids.filtered(lambda r: r.kind == 'audit').sorted('id')[-1:]
    if phase == 'full':
        project._check_ready()
        run = project._create_run('full')
        run._schedule()
        return run
    project.action_rollback()
    return project.run_ids.filtered(lambda r: r.kind == 'rollback').sorted('id')[-1:]


def _records(run):
    if run.kind == 'rollback':
        return run.removed_count + run.restored_count + run.kept_count + run.failed_count
    return run.read_count


def watch(env, cr, phase, server_pid, timeout):
    import psutil  # noqa: PLC0415 (an Odoo dependency)

    server = psutil.Process(server_pid)
    start = time.monotonic()
    run = _queue(env, phase)
    cr.commit()  # the click's transaction ends: the cron sees the run
    peak_rss = peak_vms = 0
    while True:
        for process in server.children(recursive=True):
            try:
                memory = process.memory_info()
            except psutil.Error:
                continue
            peak_rss, peak_vms = max(peak_rss, memory.rss), max(peak_vms, memory.vms)
        cr.rollback()  # a fresh snapshot: what the server committed since
        run.invalidate_recordset()
        run.stat_ids.invalidate_recordset()
        if run.state not in ('queued', 'running') or time.monotonic() - start > timeout:
            break
        time.sleep(0.5)
    elapsed = time.monotonic() - start
    records = _records(run)
    return {'phase': phase, 'state': run.state, 'message': run.message or '', 'records': records,
            'created': run.created_count, 'failed': run.failed_count, 'seconds': round(elapsed, 1),
            'records_per_s': round(records / elapsed, 1) if elapsed else None,
            'issues': len(run.project_id.issue_ids) if phase == 'audit' else None,
            'leads_left': env['crm.lead'].with_context(active_test=False).search_count([]),
            'peak_rss_mib': round(peak_rss / 2**20, 1), 'peak_vms_mib': round(peak_vms / 2**20, 1)}


def main():
    phase, conf, db = sys.argv[1:4]
    env, cr = odoo_env(conf, db)
    try:
        if phase == 'setup':
            result = setup(env, cr, sys.argv[4], int(sys.argv[5]))
        else:
            result = watch(env, cr, phase, int(sys.argv[4]), float(sys.argv[5]))
        cr.commit()
    finally:
        cr.close()
    print(json.dumps(result))


if __name__ == '__main__':
    main()
