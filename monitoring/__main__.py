from monitoring.app.cli import main

main(prog_name="ionmon")
