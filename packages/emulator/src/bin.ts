console.log("fedcred-emulator: not yet");
