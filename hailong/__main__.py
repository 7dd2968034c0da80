from hailong.cli import main

main()
