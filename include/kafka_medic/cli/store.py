"""`kafka-medic store upgrade|downgrade|current|history`: the store's schema revision, for operators who
upgrade explicitly (before rolling out a new kafka-medic) rather than at the first open."""

from __future__ import annotations

import argparse

import sqlalchemy as sa

from kafka_medic.cli.metrics import add_store_arg
from kafka_medic.cli.output import add_json_flag, print_json, print_table


def register(subparsers) -> None:
    store = subparsers.add_parser("store", help="the store's schema revision: upgrade, current, history")
    actions = store.add_subparsers(dest="action", required=True, metavar="ACTION")
    upgrade = actions.add_parser("upgrade", help="bring the store to this kafka-medic's schema (or --to a revision)")
    upgrade.add_argument("--to", default="head", metavar="REVISION", help="target revision (default: head)")
    downgrade = actions.add_parser("downgrade", help="take the store back to an older revision (base: no tables)")
    downgrade.add_argument("--to", required=True, metavar="REVISION", help="target revision, or base")
    current = actions.add_parser("current", help="the store's revision and this kafka-medic's newest")
    for parser in (upgrade, downgrade, current):
        add_store_arg(parser)
        add_json_flag(parser)
        parser.set_defaults(func=run_migrate if parser is not current else run_current)
    history = actions.add_parser("history", help="every revision this kafka-medic knows, oldest first")
    add_json_flag(history)
    history.set_defaults(func=run_history)


def run_migrate(args: argparse.Namespace) -> int:
    from kafka_medic import store_schema

    def move(db: sa.Engine, url: str) -> dict:
        target = store_schema.head() if args.to == "head" else args.to
        order = [store_schema.BASE, *(r.revision for r in store_schema.history())]
        with db.connect() as conn:
            at = store_schema.current(conn) or store_schema.BASE
        if at in order and target in order:
            step = order.index(target) - order.index(at)
            if step < 0 if args.action == "upgrade" else step > 0:
                raise _wrong_way(args.action, at, target)
        before, after = store_schema.migrate(db, target, url)
        return {"before": before, "after": after}

    return _report(args, move)


def run_current(args: argparse.Namespace) -> int:
    from kafka_medic import store_schema

    def read(db: sa.Engine, _url: str) -> dict:
        with db.connect() as conn:
            return {"current": store_schema.current(conn)}

    return _report(args, read)


def run_history(args: argparse.Namespace) -> int:
    from kafka_medic import store_schema

    revisions = store_schema.history()
    if args.json:
        print_json([r.as_dict() for r in revisions])
    else:
        print_table([(r.revision, r.down_revision or "base", r.doc) for r in revisions], ["revision", "after", "doc"])
    return 0


def _report(args: argparse.Namespace, act) -> int:
    """Run `act(engine, url)` on the store; print its figures with the store's URL and head, as a table or JSON."""
    from kafka_medic import store_schema
    from kafka_medic.storage import database_error, default_store_url, engine

    url = args.store or default_store_url()
    db = engine(url)
    try:
        result = act(db, url)
    except sa.exc.SQLAlchemyError as exc:
        raise database_error("the store", url, exc) from exc
    finally:
        db.dispose()
    result = {"store": db.url.render_as_string(hide_password=True), **result, "head": store_schema.head()}
    if args.json:
        print_json(result)
    else:
        print_table([[value or store_schema.BASE for value in result.values()]], list(result))  # None: base
    return 0


def _wrong_way(action: str, at: str, target: str):
    from kafka_medic.errors import MedicError

    other = "downgrade" if action == "upgrade" else "upgrade"
    return MedicError(f"the store is at {at}; {target} is not a{'n' if action == 'upgrade' else ''} {action} "
                      f"target from there (use `kafka-medic store {other} --to {target}`)")
