/* sql/trigger.c — trigger programs: compiling a trigger's body the first
 * time a statement needs it, and running it for a row with NEW and OLD.
 *
 * A trigger's text is parsed again into the running statement's arena and
 * compiled with the statement's compiler (cursor numbers continue), with
 * NEW and OLD as pseudo tables whose rows are set before each run. Programs
 * are kept per statement (st->trigs) and recompiled with it.
 *
 * Like SQLite with recursive_triggers off, a trigger does not fire again
 * while it is running; other triggers do, up to SQL_MAX_TRIGGER_DEPTH.
 * RAISE(IGNORE) ends the program and skips the row that fired it; RAISE
 * with ABORT/FAIL/ROLLBACK fails the statement with its message.
 *
 * Invariants:
 *   1. A program is active at most once (active flag), so its plans' runtime
 *      state is never shared by two runs.
 *   2. Rows written by a trigger are not counted in sql_changes (depth > 0).
 */
#include "sql/sqlrt.h"
#include "util/mem.h"
#include <assert.h>
#include <stdio.h>

struct trigprog {
    trigger *g;
    int newcur, oldcur;
    int nbody;
    int *kinds;
    dmlplan **dml;
    qplan **sel;
    expr *when;
    int active;
    trigprog *next;
};

static int compile_body(compiler *c, trigprog *tp, ast *a, scope *sc) {
    tp->nbody = a->nbody;
    tp->kinds = sqli_ar_alloc(c->a, sizeof(int) * (size_t)(a->nbody + 1));
    tp->dml = sqli_ar_alloc(c->a, sizeof(dmlplan *) * (size_t)(a->nbody + 1));
    tp->sel = sqli_ar_alloc(c->a, sizeof(qplan *) * (size_t)(a->nbody + 1));
    for (int i = 0; i < a->nbody; i++) {
        ast *s = a->body[i];
        tp->kinds[i] = s->kind;
        if (s->kind == ST_SELECT) {
            if (sqli_resolve_query(c, s->sel, sc) != SQL_OK ||
                sqli_plan_query(c, s->sel, &tp->sel[i]) != SQL_OK)
                return SQL_ERROR;
        } else if (sqli_compile_dml(c, s, sc, &tp->dml[i]) != SQL_OK) {
            return SQL_ERROR;
        }
    }
    return SQL_OK;
}

static int compile_trigger(vm *v, trigger *g, trigprog **out) {
    sql_stmt *st = v->st;
    compiler *c = &st->comp;
    int next, empty, errpos, np;
    char **pn, *perr;
    ast *a = sqli_parse_statement(&st->ar, g->sql, (int)strlen(g->sql), 0, &next, &empty, &perr,
                                  &errpos, &np, &pn);
    if (!a || a->kind != ST_CREATE_TRIGGER)
        return sqli_vm_error(v, SQL_CORRUPT, "malformed trigger %s", g->name);
    trigprog *tp = sqli_ar_alloc(&st->ar, sizeof *tp);
    tp->g = g;
    tp->newcur = sqli_comp_cursor(c, g->tab, g->tab->ncol);
    tp->oldcur = sqli_comp_cursor(c, g->tab, g->tab->ncol);
    scope sc = {0};
    sc.pseudo[0].name = "new";
    sc.pseudo[0].tab = g->tab;
    sc.pseudo[0].cur = tp->newcur;
    sc.pseudo[1].name = "old";
    sc.pseudo[1].tab = g->tab;
    sc.pseudo[1].cur = tp->oldcur;
    sc.npseudo = 2;
    const char *save_sql = c->sql;
    with_scope *save_with = c->with; /* the statement's CTEs are not the trigger's */
    c->sql = g->sql;
    c->with = NULL;
    c->in_trigger = 1;
    int save_main = c->main_only;
    c->main_only = !g->temp; /* a trigger of the database sees none of the temp tables */
    int rc = SQL_OK;
    if (a->when) {
        tp->when = a->when;
        rc = sqli_resolve_expr(c, a->when, &sc);
        if (rc == SQL_OK) {
            query *q = sqli_ar_alloc(c->a, sizeof *q);
            q->values = sqli_ar_alloc(c->a, sizeof(expr **));
            q->values[0] = &tp->when;
            q->nvalues = 1;
            q->ncol = 1;
            q->cols = sqli_ar_alloc(c->a, sizeof(rescol));
            q->cols[0].e = tp->when;
            qplan *p;
            rc = sqli_plan_query(c, q, &p);
        }
    }
    if (rc == SQL_OK) rc = compile_body(c, tp, a, &sc);
    c->in_trigger = 0;
    c->main_only = save_main;
    c->sql = save_sql;
    c->with = save_with;
    if (rc != SQL_OK) {
        rc = sqli_vm_error(v, SQL_ERROR, "in trigger %s: %s", g->name, c->err ? c->err : "error");
        c->err = NULL;
        return rc;
    }
    tp->next = st->trigs;
    st->trigs = tp;
    *out = tp;
    return SQL_OK;
}

int sqli_trigger_check(vm *v, trigger *g) {
    compiler *c = &v->st->comp;
    schema *save = c->sch;
    trigprog *tp;
    c->sch = v->db->sch;
    int rc = compile_trigger(v, g, &tp);
    c->sch = save;
    return rc;
}

static int run_body(vm *v, trigprog *tp) {
    int rc = SQL_OK;
    for (int i = 0; i < tp->nbody && rc == SQL_OK; i++) {
        if (tp->kinds[i] != ST_SELECT) {
            rc = sqli_run_dml(v, tp->dml[i], NULL);
            continue;
        }
        qplan *p = tp->sel[i];
        rc = sqli_q_open(v, p);
        while (rc == SQL_OK && (rc = sqli_q_next(v, p)) == SQL_ROW) rc = SQL_OK;
        if (rc == SQL_DONE) rc = SQL_OK;
        sqli_q_close(v, p);
    }
    return rc;
}

static int fires_on(trigger *g, const uint8_t *changed) {
    if (g->event != ST_UPDATE || !g->nof_cols || !changed) return 1;
    for (int k = 0; k < g->nof_cols; k++)
        if (changed[g->of_cols[k]]) return 1;
    return 0;
}

static int run_one(vm *v, trigprog *tp, const sql_value *oldrow, const sql_value *newrow,
                   int *ignore) {
    cursor *nc = sqli_vm_cursor(v, tp->newcur), *oc = sqli_vm_cursor(v, tp->oldcur);
    sql_value *save_n = nc->pseudo, *save_o = oc->pseudo;
    nc->pseudo = (sql_value *)newrow;
    oc->pseudo = (sql_value *)oldrow;
    if (!newrow) nc->state = ROW_NULL;
    if (!oldrow) oc->state = ROW_NULL;
    int rc = SQL_OK, t = 1;
    if (tp->when) rc = sqli_ex_truth(v, tp->when, &t);
    if (rc == SQL_OK && t == 1) {
        tp->active = 1;
        v->in_trigger++;
        v->depth++;
        if (v->depth > SQL_MAX_TRIGGER_DEPTH)
            rc = sqli_vm_error(v, SQL_ERROR, "too many levels of trigger recursion");
        else
            rc = run_body(v, tp);
        v->depth--;
        v->in_trigger--;
        tp->active = 0;
    }
    nc->pseudo = save_n;
    oc->pseudo = save_o;
    if (rc == RC_IGNORE) {
        *ignore = 1;
        rc = SQL_OK;
    }
    return rc;
}

int sqli_fire_triggers(vm *v, table *t, int event, int timing, const sql_value *oldrow,
                       const sql_value *newrow, const uint8_t *changed, int *ignore) {
    *ignore = 0;
    for (trigger *g = t->triggers; g; g = g->next) {
        if (g->event != event || g->timing != timing || !fires_on(g, changed)) continue;
        trigprog *tp = v->st->trigs;
        while (tp && tp->g != g) tp = tp->next;
        if (!tp) {
            int rc = compile_trigger(v, g, &tp);
            if (rc != SQL_OK) return rc;
        }
        if (tp->active) continue;
        int rc = run_one(v, tp, oldrow, newrow, ignore);
        if (rc != SQL_OK || *ignore) return rc;
    }
    return SQL_OK;
}
