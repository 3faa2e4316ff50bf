-- The consent change feed exists on PostgreSQL only (several derbes processes on one
-- database); an SQLite database is served by one process, whose consent ledger is exact.
-- This migration keeps the two backends' version numbers in step.
SELECT 1;
