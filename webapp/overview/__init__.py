"""Overview: both services side by side, the comparison, the verdict, the pictures."""
