/* commands/tracking — CLIENT TRACKING, CACHING, GETREDIR and TRACKINGINFO
 * over the server's client-side caching (server/tracking.c). */
#include "commands/commands.h"
#include "util/mem.h"
#include <string.h>

static int overlaps(const char *a, size_t al, const char *b, size_t bl) {
    return memcmp(a, b, al < bl ? al : bl) == 0;
}

typedef struct prefix_list {
    const char **p;
    size_t *len, n;
} prefix_list;

static void collect_prefix(void *ctx, const char *p, size_t len) {
    prefix_list *l = ctx;
    l->p = xrealloc(l->p, sizeof(*l->p) * (l->n + 1));
    l->len = xrealloc(l->len, sizeof(*l->len) * (l->n + 1));
    l->p[l->n] = p;
    l->len[l->n++] = len;
}

/* Two prefixes of one client must not both match a key (Redis's rule). */
static int prefixes_ok_or_reply(client *c, resp_arg **pfx, int npfx) {
    prefix_list old = {NULL, NULL, 0};
    tracking_for_each_prefix(c, collect_prefix, &old);
    size_t nold = old.n;
    int ok = 1;
    for (int i = 0; ok && i < npfx; i++) {
        for (size_t k = 0; ok && k < nold; k++) {
            if (overlaps(old.p[k], old.len[k], pfx[i]->p, pfx[i]->len)) {
                reply_errorf(c,
                             "ERR Prefix '%s' overlaps with an existing prefix '%s'. "
                             "Prefixes for a single client must not overlap.",
                             pfx[i]->p, old.p[k]);
                ok = 0;
            }
        }
        for (int j = i + 1; ok && j < npfx; j++) {
            if (overlaps(pfx[i]->p, pfx[i]->len, pfx[j]->p, pfx[j]->len)) {
                reply_errorf(c,
                             "ERR Prefix '%s' overlaps with another provided prefix '%s'. "
                             "Prefixes for a single client must not overlap.",
                             pfx[i]->p, pfx[j]->p);
                ok = 0;
            }
        }
    }
    xfree(old.p);
    xfree(old.len);
    return ok ? OK : ERR;
}

/* The ON options against each other and the client's current mode. */
static int tracking_on_ok_or_reply(client *c, uint64_t options, resp_arg **pfx, int npfx) {
    const char *err = NULL;
    uint64_t in = CLIENT_TRACKING_OPTIN, out = CLIENT_TRACKING_OPTOUT;
    if (!(options & CLIENT_TRACKING_BCAST) && npfx)
        err = "ERR PREFIX option requires BCAST mode to be enabled";
    else if ((c->flags & CLIENT_TRACKING) &&
             !!(c->flags & CLIENT_TRACKING_BCAST) != !!(options & CLIENT_TRACKING_BCAST))
        err = "ERR You can't switch BCAST mode on/off before disabling tracking for this client, "
              "and then re-enabling it with a different mode.";
    else if ((options & CLIENT_TRACKING_BCAST) && (options & (in | out)))
        err = "ERR OPTIN and OPTOUT are not compatible with BCAST";
    else if ((options & in) && (options & out))
        err = "ERR You can't specify both OPTIN mode and OPTOUT mode";
    else if (((options & in) && (c->flags & out)) || ((options & out) && (c->flags & in)))
        err = "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, "
              "and then re-enabling it with a different mode.";
    if (err) {
        reply_error(c, err);
        return ERR;
    }
    if ((options & CLIENT_TRACKING_BCAST) && prefixes_ok_or_reply(c, pfx, npfx) != OK) return ERR;
    return OK;
}

/* CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP] */
void client_tracking_command(client *c) {
    long long redir = 0;
    uint64_t options = 0;
    resp_arg **pfx = xmalloc(sizeof(*pfx) * (size_t)c->argc);
    int npfx = 0;
    for (int j = 3; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        const resp_arg *a = &c->argv[j];
        if (arg_is(a, "redirect") && more) {
            j++;
            if (redir != 0) {
                reply_error(c, "ERR A client can only redirect to a single other client");
                goto done;
            }
            if (arg_ll_or_reply(c, &c->argv[j], &redir, NULL) != OK) goto done;
            if (!client_by_id((uint64_t)redir)) {
                reply_error(c, "ERR The client ID you want redirect to does not exist");
                goto done;
            }
        } else if (arg_is(a, "bcast")) {
            options |= CLIENT_TRACKING_BCAST;
        } else if (arg_is(a, "optin")) {
            options |= CLIENT_TRACKING_OPTIN;
        } else if (arg_is(a, "optout")) {
            options |= CLIENT_TRACKING_OPTOUT;
        } else if (arg_is(a, "noloop")) {
            options |= CLIENT_TRACKING_NOLOOP;
        } else if (arg_is(a, "prefix") && more) {
            pfx[npfx++] = &c->argv[++j];
        } else {
            reply_error(c, ERR_SYNTAX);
            goto done;
        }
    }
    if (arg_is(&c->argv[2], "on")) {
        if (tracking_on_ok_or_reply(c, options, pfx, npfx) != OK) goto done;
        tracking_enable(c, (uint64_t)redir, options, pfx, npfx);
    } else if (arg_is(&c->argv[2], "off")) {
        tracking_disable(c);
    } else {
        reply_error(c, ERR_SYNTAX);
        goto done;
    }
    reply_ok(c);
done:
    xfree(pfx);
}

void client_caching_command(client *c) {
    if (!(c->flags & CLIENT_TRACKING)) {
        reply_error(c, "ERR CLIENT CACHING can be called only when the client is in tracking mode "
                       "with OPTIN or OPTOUT mode enabled");
        return;
    }
    const resp_arg *opt = &c->argv[2];
    if (arg_is(opt, "yes")) {
        if (!(c->flags & CLIENT_TRACKING_OPTIN)) {
            reply_error(
                c, "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.");
            return;
        }
    } else if (arg_is(opt, "no")) {
        if (!(c->flags & CLIENT_TRACKING_OPTOUT)) {
            reply_error(
                c, "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.");
            return;
        }
    } else {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    c->flags |= CLIENT_TRACKING_CACHING;
    reply_ok(c);
}

void client_getredir_command(client *c) {
    reply_int(c, (c->flags & CLIENT_TRACKING) ? (long long)c->tracking_redirect : -1);
}

void client_trackinginfo_command(client *c) {
    const char *flags[8];
    int nflags = 0;
    uint64_t f = c->flags;
    flags[nflags++] = (f & CLIENT_TRACKING) ? "on" : "off";
    if (f & CLIENT_TRACKING_BCAST) flags[nflags++] = "bcast";
    if (f & CLIENT_TRACKING_OPTIN) {
        flags[nflags++] = "optin";
        if (f & CLIENT_TRACKING_CACHING) flags[nflags++] = "caching-yes";
    }
    if (f & CLIENT_TRACKING_OPTOUT) {
        flags[nflags++] = "optout";
        if (f & CLIENT_TRACKING_CACHING) flags[nflags++] = "caching-no";
    }
    if (f & CLIENT_TRACKING_NOLOOP) flags[nflags++] = "noloop";
    if (f & CLIENT_TRACKING_BROKEN_REDIR) flags[nflags++] = "broken_redirect";
    reply_map(c, 3);
    reply_bulk_cstr(c, "flags");
    reply_set(c, nflags);
    for (int i = 0; i < nflags; i++) reply_bulk_cstr(c, flags[i]);
    reply_bulk_cstr(c, "redirect");
    reply_int(c, (f & CLIENT_TRACKING) ? (long long)c->tracking_redirect : -1);
    reply_bulk_cstr(c, "prefixes");
    prefix_list ps = {NULL, NULL, 0};
    tracking_for_each_prefix(c, collect_prefix, &ps);
    reply_array(c, (long)ps.n);
    for (size_t i = 0; i < ps.n; i++) reply_bulk(c, ps.p[i], ps.len[i]);
    xfree(ps.p);
    xfree(ps.len);
}
