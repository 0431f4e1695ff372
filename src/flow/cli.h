/* flow/cli: command-line entry points of the Flow engine, called from src/main.c.
 *
 * Design: each command parses its own flags so main.c only dispatches; output that scripts read
 * goes to stdout alone, diagnostics to stderr. Exit codes: 0 done, 1 the input or the store
 * refused, 2 a usage error.
 */
#ifndef SLUICE_FLOW_CLI_H
#define SLUICE_FLOW_CLI_H

/* `sluice flow import FILE [--tenant NAME] [--data DIR] [--strict]`.
 * argv[0] is the subcommand word ("import"); the options and FILE follow in any order.
 * Validates the snapshot in FILE (every problem to stderr as "FILE: /pointer: message"; a
 * structural problem exits 1; a dangling reference is a warning, or an error with --strict),
 * ensures the tenant (default "default") in <DIR>/flow.db (default ./sluice-data), imports the
 * snapshot as the flow's newest active version and prints "<tenant id> <flow id>" on stdout. */
int flow_cli_import(int argc, char **argv);

/* `sluice tenant add NAME [--data DIR]`: creates (or finds) the tenant; prints its id alone on
 * stdout. argv[0] is "add". */
int flow_cli_tenant_add(int argc, char **argv);

/* `sluice key add --tenant NAME [--name LABEL] [--data DIR]`: issues a builder API key for the
 * tenant; prints the key alone on stdout (only its hash is kept). argv[0] is "add". */
int flow_cli_key_add(int argc, char **argv);

#endif
