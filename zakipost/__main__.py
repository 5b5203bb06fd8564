from zakipost.cli import main

main()
