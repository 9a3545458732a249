"""What changes state, for the admin, the API and config as code: destinations and their
secrets, transformations and libraries, replays, and Test mapping (its dry run and its one
test event). Each module holds plain functions; the admin's pages call them and hold no
business rule of their own."""
