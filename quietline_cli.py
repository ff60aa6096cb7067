"""The one `quietline` command. Each part of the system owns its subcommands."""

import click

from server.cli import serve, server
from server.client_cli import client
from workstation.cli import ws
from workstation.keys_cli import keys
from workstation.sync.cli import sync


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Quietline: an end-to-end encrypted channel for reporting reprisals."""


main.add_command(serve)
main.add_command(server)
main.add_command(client)
main.add_command(keys)
main.add_command(sync)
main.add_command(ws)

if __name__ == "__main__":
    main()
