/* persist/persist_api.h — what the rest of the program may call in the
 * persistence layer: its registration as the server's observer (main wires
 * it), and the operations behind the persistence commands
 * (src/commands/). Everything else of src/persist is internal. */
#ifndef LARDER_PERSIST_API_H
#define LARDER_PERSIST_API_H

/* Installs persistence's hooks (server/hooks.h) and configuration
 * directives. Call once, before the configuration is read. */
void persist_register(void);
#endif
