from decompose.cli import app

app(prog_name="decompose")
