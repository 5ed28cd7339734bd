/* server/busy — serving other clients while a slow script runs: its
 * interrupt hook calls server_serve_while_busy() now and then, so accepts,
 * reads (commands other than the allowed ones get -BUSY) and writes go on.
 * Clients on the io_uring path are served by handling the ring's completions
 * (the caller's own bytes wait in its stash, server/uring.c). */
#include "server/server.h"
#include "server/uring.h"
#include "util/mem.h"
#include <poll.h>

/* Serves file events only: accepts, reads (other clients' commands get -BUSY
 * unless allowed), writes. The caller's own socket is left alone. */
static void busy_poll_fds(client *caller) {
    static struct pollfd *pf;
    static uint64_t *ids;
    static ev_io **lw;
    static size_t cap;
    size_t need = (size_t)server.ipfd_count + (size_t)server.tlsfd_count + 1 + server.clients.len;
    if (need > cap) {
        cap = need * 2;
        pf = xrealloc(pf, cap * sizeof(*pf));
        ids = xrealloc(ids, cap * sizeof(*ids));
        lw = xrealloc(lw, cap * sizeof(*lw));
    }
    size_t n = 0;
    for (int i = 0; i < server.ipfd_count; i++, n++) {
        pf[n] = (struct pollfd){.fd = server.ipfd[i], .events = POLLIN};
        lw[n] = &server.ipfd_w[i];
    }
    for (int i = 0; i < server.tlsfd_count; i++, n++) {
        pf[n] = (struct pollfd){.fd = server.tlsfd[i], .events = POLLIN};
        lw[n] = &server.tlsfd_w[i];
    }
    if (server.sofd >= 0) {
        pf[n] = (struct pollfd){.fd = server.sofd, .events = POLLIN};
        lw[n++] = &server.sofd_w;
    }
    size_t nl = n;
    list_node *ln;
    list_for_each(ln, &server.clients) {
        client *c = list_entry(ln, client, node);
        if (c == caller || c->fd < 0 || (c->flags & CLIENT_CLOSE_ASAP)) continue;
        short ev = ev_is_active(&c->rio) ? POLLIN : 0;
        if (ev_is_active(&c->wio)) ev |= POLLOUT;
        if (!ev) continue;
        pf[n] = (struct pollfd){.fd = c->fd, .events = ev};
        ids[n++] = c->id;
    }
    if (poll(pf, n, 0) <= 0) {
        flush_pending_writes();
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (!pf[i].revents) continue;
        if (i < nl) {
            ev_invoke(server.loop, lw[i], EV_READ);
            continue;
        }
        client *c = client_by_id(ids[i]);
        if (c && (pf[i].revents & (POLLIN | POLLHUP | POLLERR)) && ev_is_active(&c->rio))
            ev_invoke(server.loop, &c->rio, EV_READ);
        c = client_by_id(ids[i]);
        if (c && (pf[i].revents & POLLOUT) && ev_is_active(&c->wio))
            ev_invoke(server.loop, &c->wio, EV_WRITE);
    }
    flush_pending_writes();
}

void server_serve_while_busy(client *caller) {
    int was = input_defer_pause();
    busy_poll_fds(caller);
    if (uring_active()) {
        uring_turn();
        flush_pending_writes();
        uring_submit();
    }
    input_defer_resume(was);
}
