from rumbo.cli.main import main

main()
