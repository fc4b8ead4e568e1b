"""nbgrader configuration for the dcteach course (run nbgrader from this folder).

Layout: instructor notebooks (solutions + hidden tests) live in ``solutions/<assignment>/``;
``nbgrader generate_assignment <assignment> --force`` writes the student versions to
``assignments/<assignment>/``, which are committed. Submissions go to
``submitted/<student>/<assignment>/``; ``autograded/``, ``feedback/`` and ``gradebook.db``
are created next to this file and are git-ignored.
"""

import os

c = get_config()  # noqa: F821  (injected by nbgrader / traitlets)

_here = os.path.dirname(os.path.abspath(__file__))

# --- course layout ---------------------------------------------------------------------
c.CourseDirectory.course_id = "dcteach"
c.CourseDirectory.root = _here
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(_here, "gradebook.db")
# Files larger than this (kB) are silently left out of a release: keep data out of
# assignment folders (notebooks load data through dcteach.data instead).
c.CourseDirectory.max_file_size = 5000
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.ckpt",
                            "*.pt"]

# --- execution (validate / autograde) ------------------------------------------------------
# Every notebook declares the "python3" kernel; force it so a student's kernel name
# (e.g. "conda-env-dcteach-py") cannot cause NoSuchKernel while autograding.
c.Execute.kernel_name = "python3"
c.Execute.timeout = 120          # seconds per cell; an infinite loop costs that cell only
c.Execute.startup_timeout = 120  # kernel start (importing torch can be slow on a laptop)
c.Execute.interrupt_on_timeout = True

# --- student versions --------------------------------------------------------------------
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# --- grading -----------------------------------------------------------------------------
# Record submissions for students not yet in the gradebook instead of failing.
c.Autograde.create_student = True
c.ExchangeSubmit.strict = False
