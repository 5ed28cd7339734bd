/* larder-server entry point: arguments, configuration, start, loop, exit.
 *
 *   larder-server [config-file] [--directive value ...]
 *
 * As with redis-server, command-line directives are applied after the file
 * (so they override it), and "-" as the file name reads the config from stdin. */
#include "server/server.h"
#include "server/hooks.h"
#include "persist/persist_api.h"
#include "util/mem.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(void) {
    fprintf(stderr, "Usage: larder-server [/path/to/larder.conf] [options]\n"
                    "       larder-server - (read config from stdin)\n"
                    "       larder-server -v or --version\n"
                    "       larder-server -h or --help\n\n"
                    "Examples:\n"
                    "       larder-server conf/larder.conf\n"
                    "       larder-server conf/larder.conf --port 7777\n"
                    "       larder-server --port 7777 --maxmemory 100mb\n");
}

/* Quotes a command-line value for a config line when needed. */
static void append_arg(sbuf *b, const char *v) {
    if (*v && !strpbrk(v, " \t\"'\\\r\n")) {
        sbuf_puts(b, v);
        return;
    }
    sbuf_append_repr(b, v, strlen(v));
}

static char *read_all(FILE *f) {
    sbuf b = SBUF_INIT;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) sbuf_append(&b, buf, n);
    return sbuf_take(&b, NULL);
}

static int load_config(int argc, char **argv) {
    sbuf text = SBUF_INIT;
    int j = 1;
    if (argc >= 2 && argv[1][0] != '-') {
        server.configfile = realpath(argv[1], NULL);
        if (!server.configfile) {
            fprintf(stderr, "Fatal error, can't open config file '%s': No such file or directory\n",
                    argv[1]);
            return ERR;
        }
        FILE *f = fopen(argv[1], "r");
        if (!f) {
            fprintf(stderr, "Fatal error, can't open config file '%s'\n", argv[1]);
            return ERR;
        }
        char *all = read_all(f);
        fclose(f);
        sbuf_puts(&text, all);
        sbuf_puts(&text, "\n");
        free(all);
        j = 2;
    } else if (argc >= 2 && !strcmp(argv[1], "-")) {
        char *all = read_all(stdin);
        sbuf_puts(&text, all);
        sbuf_puts(&text, "\n");
        free(all);
        j = 2;
    }
    for (; j < argc; j++) {
        const char *a = argv[j];
        if (a[0] == '-' && a[1] == '-' && a[2]) {
            if (text.len && text.p[text.len - 1] != '\n') sbuf_puts(&text, "\n");
            sbuf_puts(&text, a + 2);
        } else {
            sbuf_puts(&text, " ");
            append_arg(&text, a);
        }
    }
    sbuf_puts(&text, "\n");
    char *err = NULL;
    int rc =
        config_load_string(text.p, server.configfile ? server.configfile : "(command line)", &err);
    if (rc != OK) {
        fprintf(stderr, "%s\n", err);
        xfree(err);
    }
    sbuf_free(&text);
    return rc;
}

int main(int argc, char **argv) {
    if (argc == 2 && (!strcmp(argv[1], "-v") || !strcmp(argv[1], "--version"))) {
        printf("Larder server v=%s (Redis %s compatible)\n", LARDER_OWN_VERSION, LARDER_VERSION);
        return 0;
    }
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage();
        return 0;
    }
    persist_register(); /* the composition root: the one place that names both */
    server_preinit();
    server.executable = realpath(argv[0], NULL);
    server.exec_argv = argv;
    if (load_config(argc, argv) != OK) return 1;
    char *err = NULL;
    if (server_init(&err) != OK) {
        fprintf(stderr, "larder: %s\n", err); /* one line, on stderr */
        /* and Redis's words on the log: supervisors and Redis's test suite
         * look for them to pick another port */
        if (!strncmp(err, "Could not create server TCP listening socket", 44))
            server_log(LL_WARNING, "Failed listening on port %d (TCP), aborting.", server.port);
        xfree(err);
        return 1;
    }
    /* " PID: n" as Redis's banner has it (its test suite waits for it) */
    server_log(LL_NOTICE, "Larder %s (Redis %s compatible) starting, port=%d, PID: %d",
               LARDER_OWN_VERSION, LARDER_VERSION, server.port, (int)getpid());
    if (hooks.start(&err) != OK) {
        server_log(LL_WARNING, "%s", err);
        fprintf(stderr, "larder: %s\n", err);
        xfree(err);
        return 1;
    }
    char what[64];
    server_log(LL_NOTICE, "Ready to accept connections %s",
               server_listen_summary(what, sizeof(what)));
    server_run();
    server_shutdown();
    return server.shutdown_exit_code;
}
