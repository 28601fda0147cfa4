"""Slurm job submission: render the templates in jobs/ and submit run -> aggregate chains."""
