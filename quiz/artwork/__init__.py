"""Children's drawing contest (儿童绘画比赛, kind artwork_contest): invitations, guardian
sign-up, photographed works, judging rounds, awards and the public gallery."""
