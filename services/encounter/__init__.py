"""The encounter service: the front door for one case (Assess) and team screenings."""
