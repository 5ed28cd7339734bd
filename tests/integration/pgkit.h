/* tests/integration/pgkit — a real PostgreSQL for the tests (Debian's
 * `postgresql` package), no mock.
 *
 * pg_start() finds /usr/lib/postgresql/<newest>/bin, makes a temporary folder
 * owned by the `postgres` user (initdb refuses to run as root, and CI runs
 * as root), runs initdb (superuser "postgres", trust authentication, UTF8)
 * and `pg_ctl start -w` as that user, on a free port, listening on
 * 127.0.0.1 and on a Unix socket in the folder, with fsync off. Tests connect
 * with pg_conninfo() (the socket, user postgres, database postgres).
 *
 * One server per test process. It is stopped (`pg_ctl stop -m fast`) and the
 * folder removed by pg_stop(), at exit (atexit), and when the test dies on a
 * signal (SIGINT, SIGTERM, SIGABRT, SIGSEGV, SIGBUS: the handler sends the
 * postmaster SIGQUIT, waits for it, removes the folder and re-raises). A
 * test process must call pg_start() before it starts threads. A watchdog
 * process stops the server and removes the folder when the test dies of
 * SIGKILL, which no handler sees. */
#ifndef LARDER_TEST_PGKIT_H
#define LARDER_TEST_PGKIT_H
#include <sys/types.h>

/* Starts the server; 0 on success, -1 with the reason on stderr. */
int pg_start(void);
/* Extra postgres options ("-c name=value ...") for pg_start and pg_restart,
 * after pgkit's own, so they override them (a benchmark turns fsync back
 * on and allows more connections). Call before pg_start; NULL clears. */
void pg_set_options(const char *opts);
/* Stops it and removes its folder (idempotent). */
void pg_stop(void);
/* "host=<socket dir> port=<port> user=postgres dbname=postgres" */
const char *pg_conninfo(void);
int pg_port(void);
/* The absolute path of $LARDER_BUILD/modules/pgstore.so (build/ without it). */
const char *pg_module_path(void);
/* The postmaster's pid (from postmaster.pid), or -1. */
pid_t pg_postmaster_pid(void);
/* kill -9 of the postmaster and of every server process, waits until they
 * are gone (a crash of the database host). 0 on success. */
int pg_kill9(void);
/* `pg_ctl stop -m fast`, keeping the folder (an orderly stop of the
 * database); pg_restart() starts it again. 0 on success. */
int pg_halt(void);
/* Starts the server again on the same folder and port (crash recovery runs
 * if it was killed). 0 on success. */
int pg_restart(void);
/* Runs SQL with psql (ON_ERROR_STOP); 0 when it succeeded. Output goes to
 * the folder's psql.log. */
int pg_psql(const char *sql);
#endif
