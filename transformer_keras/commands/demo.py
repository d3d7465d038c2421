"""`transformer-keras demo` (= `make demo`): `recipes.demo.run_demos`."""


def register(commands):
    """Adds `demo`."""
    demo = commands.top.add_parser("demo", help="run the offline end-to-end demo (make demo)")
    demo.add_argument("--data", help="a real data file instead of the generated default")
    demo.add_argument("--output-dir", default="saved_models", help="where exports go")
    demo.set_defaults(handler=demo_command)


def demo_command(args):
    from transformer_keras.recipes.demo import run_demos

    run_demos(args.output_dir, args.data)
    return 0
