/* server/stubs — placeholders for subsystems not built yet:
 * persistence (issue 6).
 * Each function here is replaced by the real module's definition when it lands;
 * until then they keep the server's contract (no store). */
#include "commands/commands.h"

/* persistence */
void persist_client_free(client *c) { (void)c; }
int persist_allows_command(client *c, const command *cmd) { (void)c, (void)cmd; return 1; }
void persist_before_sleep(void) {}
void persist_cron(void) {}
void persist_shutdown(void) {}
int persist_start(char **err) { (void)err; return OK; }
