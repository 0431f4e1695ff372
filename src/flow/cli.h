/* flow/cli: command-line entry points of the Flow engine, called from src/main.c.
 *
 * Design: each command parses its own flags so main.c only dispatches; output that scripts read
 * goes to stdout alone, diagnostics to stderr. Exit codes: 0 done, 1 the input or the store
 * refused, 2 a usage error.
 */
#ifndef SLUICE_FLOW_CLI_H
#define SLUICE_FLOW_CLI_H

/* `sluice flow import FILE [--tenant NAME] [--data DIR] [--strict] [--remap-ids | --keep-ids]
 * [--bind | --no-bind] [--service-uri OLD=NEW]...`.
 * argv[0] is the subcommand word ("import"); the options and FILE follow in any order.
 * Validates the snapshot or package in FILE (every problem to stderr as "FILE: /pointer:
 * message"; a structural problem exits 1; a dangling reference is a warning, or an error with
 * --strict), ensures the tenant (default "default") in <DIR>/flow.db (default ./sluice-data),
 * imports it with package_import (binding to the tenant's services by developerName for packages
 * or when asked, fresh ids when asked or when the package comes from another tenant, uri
 * mapping) as the flow's newest
 * active version and prints "<tenant id> <flow id>" (the id it was stored under) on stdout. */
int flow_cli_import(int argc, char **argv);

/* `sluice flow export FLOW [--tenant NAME] [--version V] [--data DIR]`: prints the package
 * (package_export) of a version of FLOW (id or developerName; the active version by default)
 * alone on stdout. argv[0] is "export". Exit 1 when the tenant, flow or version is unknown. */
int flow_cli_export(int argc, char **argv);

/* `sluice tenant add NAME [--data DIR]`: creates (or finds) the tenant; prints its id alone on
 * stdout. argv[0] is "add". */
int flow_cli_tenant_add(int argc, char **argv);

/* `sluice key add --tenant NAME [--name LABEL] [--data DIR]`: issues a builder API key for the
 * tenant; prints the key alone on stdout (only its hash is kept). argv[0] is "add". */
int flow_cli_key_add(int argc, char **argv);

#endif
