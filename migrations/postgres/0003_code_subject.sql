-- The code's user, so that redeeming a code can return the user in the same statement.
-- Codes saved before this migration have none and redeem as if their user were gone; they
-- live for minutes.
ALTER TABLE codes ADD COLUMN sub TEXT;
