-- SQLite's planner chose this index for a customer's open lots (it matches their ORDER BY) and
-- then read every lot of the program: one account read took over a second at 100k customers.
-- The dashboard's outstanding sum reads all of a program's lots anyway, faster without it.
DROP INDEX lots_program_available;
