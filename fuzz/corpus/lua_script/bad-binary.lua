!/uong
