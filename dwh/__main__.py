from dwh.cli import main

main()
