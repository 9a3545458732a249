"""What the admin reads: the delivery log and an exchange as a page shows it, destination
health, the overview and what retention keeps past its time. Selectors write nothing."""
