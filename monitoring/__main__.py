from monitoring.cli import main

main(prog_name="ionmon")
