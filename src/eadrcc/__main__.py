from eadrcc.cli import main

main()
