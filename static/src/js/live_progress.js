// Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import { Component, onWillDestroy } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { standardWidgetProps } from "@web/views/widgets/standard_widget_props";

/**
 * Keeps a run's or a project's form up to date while a run works in the
 * background: the server sends "crm_migration/progress" on Odoo's bus after
 * each batch, and the form shown reloads itself (unless the user is editing).
 */
export class CrmMigrationLiveProgress extends Component {
    static template = "crm_migration.LiveProgress";
    static props = { ...standardWidgetProps };

    setup() {
        this.busService = useService("bus_service");
        this.onProgress = this.onProgress.bind(this);
        this.busService.subscribe("crm_migration/progress", this.onProgress);
        this.busService.start();
        onWillDestroy(() => this.busService.unsubscribe("crm_migration/progress", this.onProgress));
    }

    async onProgress(payload) {
        const record = this.props.record;
        const isRun = record.resModel === "crm.migration.run";
        if (!record.resId || payload[isRun ? "run_id" : "project_id"] !== record.resId) {
            return;
        }
        // Already showing this (the button that ran the batch reloaded the form itself).
        const shown = isRun
            ? record.data.state === payload.state && record.data.progress === payload.progress
            : record.data.state === payload.project_state && record.data.last_run_id?.id === payload.run_id;
        if (shown) {
            return;
        }
        // One batch, one notification: reload once for all those that arrive meanwhile.
        this.pending = true;
        if (this.loading) {
            return;
        }
        this.loading = true;
        try {
            while (this.pending) {
                this.pending = false;
                if (await record.isDirty()) {
                    break; // the user is typing: their changes win, the next batch reloads
                }
                await record.load();
            }
        } finally {
            this.loading = false;
        }
    }
}

registry.category("view_widgets").add("crm_migration_live_progress", {
    component: CrmMigrationLiveProgress,
});
