"""``python -m battles.demo.fake_provider [--host H] [--port P] [--latency S] [--tokens-per-second N]
[--answer-book PATH]``"""

import argparse

from battles.demo.fake_provider.cli import add_cli_arguments, serve_from_options


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m battles.demo.fake_provider",
        description="Serve the fake model provider (OpenAI-compatible and Anthropic wire formats).",
    )
    add_cli_arguments(parser)
    options = parser.parse_args(argv)
    try:
        serve_from_options(vars(options))
    except (OSError, ValueError) as exc:
        parser.exit(1, f"fake provider: {exc}\n")


if __name__ == "__main__":
    main()
