"""taskvec in the browser: ``python app.py`` serves http://127.0.0.1:7860 (see ``python app.py --help``)."""

from taskvec.app import main

if __name__ == "__main__":
    main()
