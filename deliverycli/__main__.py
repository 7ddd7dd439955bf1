from deliverycli.cli import main

main()
